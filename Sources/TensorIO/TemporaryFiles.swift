// The temporary files AtomicOutputFile has open, so a signal handler can remove them: a
// Ctrl-C (or SIGTERM, SIGHUP) during a long convert or merge would otherwise leave a
// `.NAME.tmp-XXXXXX` of gigabytes beside the target, since deinit never runs.
//
// Paths live in a fixed table of C strings. Registration takes a lock; `removeAll()` is
// called from a signal handler, so it only reads the table and calls unlink (both
// async-signal-safe) and takes no lock.

import Glibc

public enum TemporaryFiles {
    private static let capacity = 256
    nonisolated(unsafe) private static let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
    nonisolated(unsafe) private static var lock: pthread_mutex_t = {
        var mutex = pthread_mutex_t()
        pthread_mutex_init(&mutex, nil)
        slots.initialize(repeating: nil, count: capacity)
        return mutex
    }()

    /// Remembers a temporary path; returns its slot (nil when the table is full: that file is
    /// then only removed by the normal failure path).
    static func register(_ path: String) -> Int? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for index in 0..<capacity where slots[index] == nil {
            slots[index] = strdup(path)
            return index
        }
        return nil
    }

    static func unregister(_ slot: Int?) {
        guard let slot else { return }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let path = slots[slot]
        slots[slot] = nil
        free(path)
    }

    /// The registered paths (what `removeAll()` would unlink).
    static func registeredPaths() -> Set<String> {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return Set((0..<capacity).compactMap { slots[$0].map { String(cString: $0) } })
    }

    /// Unlinks every registered file. Async-signal-safe: for signal handlers.
    public static func removeAll() {
        for index in 0..<capacity {
            if let path = slots[index] { unlink(path) }
        }
    }
}
