// Training-step throughput of the GPT-2 124M shape (B 4, T 256, random weights, LoRA r 8 on
// c_attn and c_proj). A measurement, not a check: it runs only when LOFT_BENCH is set, in a
// release build:
//   swift build -c release --build-tests -Xswiftc -enable-testing
//   LOFT_BENCH=1 swift test -c release --skip-build --filter GPT2Throughput

import Foundation
import Testing
import Models

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
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let tokensPerSecond = Double(steps * batch * sequence) / (forwardSeconds + backwardSeconds)
    print(String(format: "GPT-2 124M B%d T%d LoRA r8 on %d modules: %.0f tokens/s (forward %.0f ms, backward %.0f ms per step), peak RSS %.0f MB",
                 batch, sequence, pairs.count, tokensPerSecond, 1000 * forwardSeconds / Double(steps),
                 1000 * backwardSeconds / Double(steps), Double(usage.ru_maxrss) / 1024))
}
