// Where the commands print. Output goes through `Console.current`, a task-local value, so a
// test can run a command in-process and read what it printed (`Console.capture`), while the
// executable writes straight to the standard streams.

import Glibc

public final class Console: @unchecked Sendable {
    /// Where the text goes: file descriptors, or strings kept for a test.
    private enum Sink {
        case descriptors
        case captured
    }

    private let sink: Sink
    private let lock = NSLockLite()
    public private(set) var standardOutput = ""
    public private(set) var standardError = ""
    /// Whether stderr is a terminal (progress bars redraw in place only there).
    public let errorIsTerminal: Bool

    private init(sink: Sink, errorIsTerminal: Bool) {
        self.sink = sink
        self.errorIsTerminal = errorIsTerminal
    }

    public static let standard = Console(sink: .descriptors, errorIsTerminal: isatty(2) != 0)

    @TaskLocal public static var current: Console = .standard

    /// Runs `body` with the output captured; returns the console holding the text.
    public static func capture(_ body: () throws -> Void) rethrows -> Console {
        let console = Console(sink: .captured, errorIsTerminal: false)
        try Console.$current.withValue(console) { try body() }
        return console
    }

    public func out(_ text: String, terminator: String = "\n") { emit(text + terminator, fd: 1) }
    public func err(_ text: String, terminator: String = "\n") { emit(text + terminator, fd: 2) }

    private func emit(_ text: String, fd: Int32) {
        switch sink {
        case .descriptors:
            var bytes = Array(text.utf8)
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                if n <= 0 { if n < 0, errno == EINTR { continue }; return }
                done += n
            }
        case .captured:
            lock.withLock { if fd == 1 { standardOutput += text } else { standardError += text } }
        }
    }
}

/// A pthread mutex, to avoid pulling Foundation into the command layer for one lock.
final class NSLockLite: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
