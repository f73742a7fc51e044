// Progress on stderr for long jobs. On a terminal one line redrawn in place (at most ~10
// times a second); otherwise (a log file, CI) a plain line every 10% so logs stay short.
// Silent for jobs that finish before it would first draw.

import TensorIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class ProgressBar {
    private let label: String
    private let console: Console
    private let started = ProgressBar.now()
    private var lastDraw = 0.0
    private var lastDecile = -1
    private var drewOnTerminal = false
    /// Jobs shorter than this print nothing.
    private let quietSeconds = 0.5

    init(label: String, console: Console = .current) {
        self.label = label
        self.console = console
    }

    func update(done: Int, total: Int, item: String?) {
        let elapsed = ProgressBar.now() - started
        guard elapsed >= quietSeconds, total > 0 else { return }
        let fraction = min(1, Double(done) / Double(total))
        if console.errorIsTerminal {
            guard elapsed - lastDraw >= 0.1 || done >= total else { return }
            lastDraw = elapsed
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let name = item.map { " " + String($0.prefix(40)) } ?? ""
            console.err("\r\u{1B}[K\(label) [\(bar)] \(percent(fraction)) \(ByteSize.format(done))/\(ByteSize.format(total))\(name)", terminator: "")
            drewOnTerminal = true
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            console.err("\(label): \(percent(fraction)) (\(ByteSize.format(done)) of \(ByteSize.format(total)), \(ByteSize.formatFixed(elapsed, digits: 1)) s)")
        }
    }

    /// Clears the in-place line so the summary starts on a clean line.
    func finish() {
        if drewOnTerminal { console.err("\r\u{1B}[K", terminator: "") }
    }

    private func percent(_ fraction: Double) -> String { "\(Int(fraction * 100))%" }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
