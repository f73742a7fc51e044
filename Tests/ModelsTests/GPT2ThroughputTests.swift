// Training-step throughput of the GPT-2 124M shape (B 4, T 256, random weights, LoRA r 8 on
// c_attn and c_proj). A measurement, not a check: it runs only when LOFT_BENCH is set, in a
// release build:
//   swift build -c release --build-tests -Xswiftc -enable-testing
//   LOFT_BENCH=1 swift test -c release --skip-build --filter GPT2Throughput

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

@Test(.enabled(if: ProcessInfo.processInfo.environment["LOFT_BENCH"] != nil))
func GPT2ThroughputForwardBackward() throws {
    let batch = 4, sequence = 256, steps = Int(ProcessInfo.processInfo.environment["LOFT_BENCH_STEPS"] ?? "5") ?? 5
    let model = try GPT2Model(randomlyInitialized: .gpt2Small, seed: 1)
    let pairs = try model.addLowRankAdapters(targets: ["c_attn", "c_proj"], rank: 8, alpha: 8, seed: 2)
    var random = SeededRandom(seed: 3)
    let tokens = (0..<(batch * sequence)).map { _ in Int32(random.next() % 50257) }
    let targets = (0..<(batch * sequence)).map { _ in Int32(random.next() % 50257) }
    // One warm-up step allocates the activations.
    try model.forward(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
    model.backward()
    var forwardSeconds = 0.0, backwardSeconds = 0.0
    for _ in 0..<steps {
        let start = Date()
        try model.forward(tokens: tokens, targets: targets, batch: batch, sequence: sequence)
        let middle = Date()
        model.zeroGradients()
        model.backward()
        forwardSeconds += middle.timeIntervalSince(start)
        backwardSeconds += Date().timeIntervalSince(middle)
    }
    // Product FLOPs of one step: forward 2·N·(block weights + head) + attention 4·B·H·T²·hs
    // per layer; LoRA backward needs input gradients only: the same products again, and
    // attention backward twice its forward.
    let c = GPT2Config.gpt2Small
    let n = Double(batch * sequence)
    let blockWeights = Double(c.layers * 12 * c.channels * c.channels), head = Double(c.vocabularySize * c.channels)
    let attention = Double(c.layers) * 4 * Double(batch * sequence * sequence * c.channels)
    let stepFlops = 2 * (2 * n * (blockWeights + head)) + 3 * attention
    let gemm = referenceGemmGigaflops()
    let achieved = stepFlops * Double(steps) / (forwardSeconds + backwardSeconds) / 1e9
    print(String(format: "products: %.0f GFLOP per step, %.1f GFLOP/s achieved; BLAS alone now: %.1f GFLOP/s (%.0f%%)",
                 stepFlops / 1e9, achieved, gemm, 100 * achieved / gemm))
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let tokensPerSecond = Double(steps * batch * sequence) / (forwardSeconds + backwardSeconds)
    print(String(format: "GPT-2 124M B%d T%d LoRA r8 on %d modules: %.0f tokens/s (forward %.0f ms, backward %.0f ms per step), peak RSS %.0f MB",
                 batch, sequence, pairs.count, tokensPerSecond, 1000 * forwardSeconds / Double(steps),
                 1000 * backwardSeconds / Double(steps), Double(usage.ru_maxrss) / 1024))
}
