// Time and memory of one optimizer step on one m x n weight: a LoFT or LoRA-AdamW pair of
// rank r, or dense AdamW on the whole m x n matrix. Behind `loft experiment optimizer-step`
// and scripts/bench-optimizer.sh.
//
// Memory: the resident set after setup (parameters, gradients, optimizer state) is the
// baseline; the transient of a step is the process's peak resident set during the timed
// steps minus that baseline (buffers of 128 KiB and more are mmapped by glibc, so they leave
// the resident set when freed and the peak sees each step's temporaries).

import Compute
import LoFT
import TensorIO

import Glibc

public struct OptimizerBenchmark: Sendable {
    public enum Method: String, CaseIterable, Sendable {
        case loft, lora, adamw
    }

    public struct Result: Sendable {
        public var method: Method
        public var m: Int, n: Int, rank: Int
        public var steps: Int
        public var secondsPerStep: Double
        /// CPU time (all threads) per step: steadier than wall time on a loaded machine.
        public var cpuSecondsPerStep: Double
        /// Optimizer state (moments, second-moment matrices, bases), bytes.
        public var stateBytes: Int
        /// Peak resident set during the steps minus the resident set before them.
        public var transientBytes: Int
        public var peakResidentBytes: Int
    }

    public var m = 4096
    public var n = 4096
    public var rank = 16
    public var steps = 10

    public init() {}

    public func run(_ method: Method) throws -> Result {
        var generator = SeededGenerator(seed: 42)
        let hyperparameters = AdamWHyperparameters(eps: 1e-4)
        let optimizer: Optimizer
        let gradients: [String: Gradient]
        switch method {
        case .adamw:
            let w = Matrix.normal(rows: m, columns: n, scale: 0.02, using: &generator)
            optimizer = Optimizer(method: .loraAdamW, hyperparameters: hyperparameters)
            try optimizer.register(dense: "W", w)
            gradients = ["W": .dense(Matrix.normal(rows: m, columns: n, scale: 1e-3, using: &generator))]
        case .lora, .loft:
            let pair = LowRankPair(a: .normal(rows: rank, columns: n, scale: 0.02, using: &generator),
                                   b: .normal(rows: m, columns: rank, scale: 0.02, using: &generator))
            optimizer = Optimizer(method: method == .loft ? .loft : .loraAdamW, hyperparameters: hyperparameters)
            try optimizer.register(pair: "W", pair)
            gradients = ["W": .pair(a: .normal(rows: rank, columns: n, scale: 1e-3, using: &generator),
                                    b: .normal(rows: m, columns: rank, scale: 1e-3, using: &generator))]
        }
        // Two warm-up steps: every buffer exists and, for LoFT, both factors have moved once.
        try optimizer.step(gradients: gradients, learningRate: 1e-4)
        try optimizer.step(gradients: gradients, learningRate: 1e-4)
        let stateBytes = optimizer.stateTensors(includeParameters: false).tensors.reduce(0) { $0 + $1.info.byteCount }

        let baseline = Self.residentBytes()
        Self.resetPeakResident()
        let start = Self.now(), cpuStart = Self.now(CLOCK_PROCESS_CPUTIME_ID)
        for _ in 0..<steps { try optimizer.step(gradients: gradients, learningRate: 1e-4) }
        let seconds = (Self.now() - start) / Double(max(steps, 1))
        let cpuSeconds = (Self.now(CLOCK_PROCESS_CPUTIME_ID) - cpuStart) / Double(max(steps, 1))
        let peak = Self.peakResidentBytes()
        return Result(method: method, m: m, n: n, rank: method == .adamw ? 0 : rank, steps: steps,
                      secondsPerStep: seconds, cpuSecondsPerStep: cpuSeconds, stateBytes: stateBytes,
                      transientBytes: max(0, peak - baseline), peakResidentBytes: peak)
    }

    static func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
        var t = timespec()
        clock_gettime(clock, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Current resident set (second field of /proc/self/statm, in pages), bytes; 0 where unavailable.
    static func residentBytes() -> Int {
        guard let file = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, Int32(line.count), file) != nil else { return 0 }
        let fields = String(cString: line).split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Resets the kernel's high-water mark of the resident set (Linux: /proc/self/clear_refs
    /// with "5"), so the peak measured afterwards belongs to the steps alone.
    static func resetPeakResident() {
        guard let file = fopen("/proc/self/clear_refs", "w") else { return }
        fputs("5", file)
        fclose(file)
    }

    /// Peak resident set since the last reset (VmHWM in /proc/self/status), bytes.
    static func peakResidentBytes() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            if text.hasPrefix("VmHWM:") {
                let digits = text.dropFirst(6).filter { $0.isNumber }
                return (Int(String(digits)) ?? 0) * 1024
            }
        }
        return 0
    }
}
