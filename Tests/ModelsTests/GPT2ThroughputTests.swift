// Training-step throughput (forward + backward, random weights, LoRA r 8): the GPT-2 124M
// shape (B 4, T 256, c_attn and c_proj) and the `make bench` shape (6 layers x 384, B 8,
// T 128, all four projections). A measurement, not a check: it runs only when LOFT_BENCH is
// set, in a release build (peak RSS is the whole test process: run one case at a time):
//   swift build -c release --build-tests -Xswiftc -enable-testing
//   LOFT_BENCH=1 LOFT_BENCH_CASE=124M swift test -c release --skip-build --filter GPT2Throughput
//   LOFT_BENCH=1 LOFT_BENCH_CASE=384 swift test -c release --skip-build --filter GPT2Throughput

import Compute
import CBLAS
import Foundation
import Testing
import Models

/// GFLOP/s of one c_attn-sized product (1024 x 768 x 2304) right now: the machine is shared,
/// so the model's throughput is reported next to what BLAS alone reaches at the same moment.
private func referenceGemmGigaflops() -> Double {
    let m = 1024, k = 768, n = 2304
    let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
    let start = Date()
    for _ in 0..<10 {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a.pointer, Int32(k),
                    b.pointer, Int32(n), 0, c.pointer, Int32(n))
    }
    return 10 * 2 * Double(m * n * k) / Date().timeIntervalSince(start) / 1e9
}

private struct ThroughputCase: CustomStringConvertible, Sendable {
    var label: String, config: GPT2Config, batch: Int, sequence: Int, targets: [String]
    var description: String { label }
}

private let throughputCases = [
    ThroughputCase(label: "GPT-2 124M", config: .gpt2Small, batch: 4, sequence: 256, targets: ["c_attn", "c_proj"]),
    // The `make bench` shape of issue 4.
    ThroughputCase(label: "6 x 384", config: GPT2Config(vocabularySize: 50257, positions: 1024, channels: 384, heads: 6, layers: 6),
                   batch: 8, sequence: 128, targets: ["c_attn", "c_proj", "c_fc"]),
]

@Test(.enabled(if: ProcessInfo.processInfo.environment["LOFT_BENCH"] != nil), arguments: throughputCases)
private func GPT2ThroughputForwardBackward(_ bench: ThroughputCase) throws {
    if let only = ProcessInfo.processInfo.environment["LOFT_BENCH_CASE"], !bench.label.contains(only) { return }
    let batch = bench.batch, sequence = bench.sequence, steps = Int(ProcessInfo.processInfo.environment["LOFT_BENCH_STEPS"] ?? "5") ?? 5
    let model = try GPT2Model(randomlyInitialized: bench.config, seed: 1)
    let pairs = try model.addLowRankAdapters(targets: bench.targets, rank: 8, alpha: 8, seed: 2)
    var random = SeededGenerator(seed: 3)
    let tokens = (0..<(batch * sequence)).map { _ in Int32(random.next() % 50257) }
    let targets = (0..<(batch * sequence)).map { _ in Int32(random.next() % 50257) }
    // Fused: forwardBackward (the head in blocks of rows, no logits buffer), what training
    // uses; split: forward (logits kept) then backward, timed separately.
    let fused = ProcessInfo.processInfo.environment["LOFT_BENCH_MODE"] != "split"
    let headRows = Int(ProcessInfo.processInfo.environment["LOFT_BENCH_HEAD_ROWS"] ?? "512") ?? 512
    func step() throws -> (forward: Double, backward: Double) {
        model.zeroGradients()
        let start = Date()
        if fused {
            try model.forwardBackward(tokens: tokens, targets: targets, batch: batch, sequence: sequence, headRows: headRows)
            return (Date().timeIntervalSince(start), 0)
        }
        try model.forward(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        let middle = Date()
        model.backward()
        return (middle.timeIntervalSince(start), Date().timeIntervalSince(middle))
    }
    _ = try step()  // warm-up: allocates the activations
    var forwardSeconds = 0.0, backwardSeconds = 0.0
    for _ in 0..<steps {
        let (f, b) = try step()
        forwardSeconds += f
        backwardSeconds += b
    }
    // Product FLOPs of one step: forward 2·N·(block weights + head) + attention 4·B·H·T²·hs
    // per layer; LoRA backward needs input gradients only: the same products again, and
    // attention backward twice its forward.
    let c = bench.config
    let n = Double(batch * sequence)
    let blockWeights = Double(c.layers * 12 * c.channels * c.channels), head = Double(c.vocabularySize * c.channels)
    let attention = Double(c.layers) * 4 * Double(batch * sequence * sequence * c.channels)
    let stepFlops = 2 * (2 * n * (blockWeights + head)) + 3 * attention
    let gemm = referenceGemmGigaflops()
    let achieved = stepFlops * Double(steps) / (forwardSeconds + backwardSeconds) / 1e9
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let tokensPerSecond = Double(steps * batch * sequence) / (forwardSeconds + backwardSeconds)
    print(String(format: "%@ B%d T%d LoRA r8 on %d modules, %@: %.0f tokens/s (%.0f ms forward, %.0f ms backward per step), peak RSS %.0f MB",
                 bench.label, batch, sequence, pairs.count, fused ? "forwardBackward" : "forward + backward", tokensPerSecond,
                 1000 * forwardSeconds / Double(steps), 1000 * backwardSeconds / Double(steps), Double(usage.ru_maxrss) / 1024))
    print(String(format: "%@ products: %.0f GFLOP per step, %.1f GFLOP/s achieved; BLAS alone now: %.1f GFLOP/s (%.0f%%)",
                 bench.label, stepFlops / 1e9, achieved, gemm, 100 * achieved / gemm))
}
