// Progress on stderr for every long job (bytes converted or merged, tensors inspected,
// training steps). On a terminal one line redrawn in place (at most ~10 times a second) with
// the rate's estimate of the time left; otherwise (a log file, CI) a plain line every 10% so
// logs stay short. Silent for jobs that finish before it would first draw. Lines that must
// stay (an evaluation's loss) go through `log`, which clears the bar first.

import TensorIO

import Glibc

final class ProgressBar {
    /// What `done` and `total` count.
    enum Unit { case bytes, steps }

    private let label: String
    private let unit: Unit
    private let console: Console
    private let started = ProgressBar.now()
    /// The first `done` seen: a resumed run's rate counts only the work done in this run.
    private var firstDone: Int?
    private var lastDraw = 0.0
    private var lastDecile = -1
    private var drewOnTerminal = false
    /// Jobs shorter than this print nothing.
    private let quietSeconds = 0.5

    init(label: String, unit: Unit = .bytes, console: Console = .current) {
        self.label = label
        self.unit = unit
        self.console = console
    }

    /// `detail`: what is being worked on, or the job's own figures (a tensor's name, the loss).
    func update(done: Int, total: Int, detail: String? = nil) {
        if firstDone == nil { firstDone = done }
        let elapsed = ProgressBar.now() - started
        guard elapsed >= quietSeconds, total > 0 else { return }
        let fraction = min(1, Double(done) / Double(total))
        let extra = detail.map { " " + String($0.prefix(60)) } ?? ""
        if console.errorIsTerminal {
            guard elapsed - lastDraw >= 0.1 || done >= total else { return }
            lastDraw = elapsed
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            console.err("\r\u{1B}[K\(label) [\(bar)] \(percent(fraction)) \(counts(done, total, "/"))\(extra)\(remaining(done: done, total: total, elapsed: elapsed))",
                        terminator: "")
            drewOnTerminal = true
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            console.err("\(label): \(percent(fraction)) (\(counts(done, total, " of ")), \(ByteSize.formatFixed(elapsed, digits: 1)) s)\(extra)")
        }
    }

    /// A line that stays, printed above the bar.
    func log(_ line: String) {
        clear()
        console.err(line)
    }

    /// Clears the in-place line so the summary starts on a clean line.
    func finish() { clear() }

    private func clear() {
        if drewOnTerminal { console.err("\r\u{1B}[K", terminator: "") }
        drewOnTerminal = false
    }

    /// "1.20 MB/3.00 MB", "step 40/100".
    private func counts(_ done: Int, _ total: Int, _ separator: String) -> String {
        switch unit {
        case .bytes: return ByteSize.format(done) + separator + ByteSize.format(total)
        case .steps: return "step \(done)\(separator)\(total)"
        }
    }

    private func percent(_ fraction: Double) -> String { "\(Int(fraction * 100))%" }

    /// "  ETA 1m05s" from the rate so far; empty until there is one.
    private func remaining(done: Int, total: Int, elapsed: Double) -> String {
        let progressed = done - (firstDone ?? 0)
        guard progressed > 0, done < total else { return "" }
        let seconds = Int((elapsed / Double(progressed) * Double(total - done)).rounded())
        let text = seconds >= 3600 ? "\(seconds / 3600)h\(seconds % 3600 / 60)m"
            : seconds >= 60 ? "\(seconds / 60)m\(seconds % 60 < 10 ? "0" : "")\(seconds % 60)s" : "\(seconds)s"
        return "  ETA \(text)"
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
