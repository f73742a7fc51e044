// What a signal does to a running command. SIGINT, SIGTERM and SIGHUP remove the temporary
// output files and staging directories (TemporaryFiles, the output policy's) and then end
// the process as the signal would, so a Ctrl-C during a long convert or merge leaves
// nothing beside the target. They are unblocked too: a parent that spawns loft from a
// thread with signals blocked (a Dispatch worker) would otherwise pass the mask on, and a
// SIGTERM would wait until the command finished. SIGPIPE is
// ignored: `loft convert ... 2>&1 | head` must not kill a conversion halfway (and leave
// its temporary file); the lost progress lines are simply not written.

import TensorIO

import Glibc

public enum SignalCleanup {
    public static func install() {
        signal(SIGPIPE, SIG_IGN)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&unblocked, number) }
        sigprocmask(SIG_UNBLOCK, &unblocked, nil)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            // A signal ignored by the parent (nohup, a shell's background job) stays ignored.
            var current = sigaction()
            sigaction(number, nil, &current)
            if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            signal(number) { received in
                TemporaryFiles.removeAll()
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }
}
