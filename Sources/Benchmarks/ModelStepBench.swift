// Training-step throughput of the model alone (forward + backward, random weights, LoRA r 8):
// the GPT-2 124M shape (B 4, T 256, c_attn and c_proj) and the `make bench` shape (6 layers
// x 384, B 8, T 128, three projections), beside what BLAS reaches at the same moment.

import ArgumentParser
import Compute
import Foundation
import Models

struct ModelStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model-step", abstract: "GPT-2 forward + backward tokens/s and achieved GFLOP/s.")

    enum Shape: String, ExpressibleByArgument, CaseIterable { case gpt2Small = "124M", bench = "384" }

    @Option(help: "124M (GPT-2 small, B 4, T 256) or 384 (6 x 384, B 8, T 128).") var shape: Shape = .bench
    @Option(help: "Timed steps after one warm-up step.") var steps = 5
    @Flag(help: "Forward (logits kept) then backward, timed apart, instead of the fused forwardBackward.") var split = false
    @Option(help: "Rows of the head computed per block in the fused step.") var headRows = 512

    func run() throws {
        let (label, config, batch, sequence, targets): (String, GPT2Config, Int, Int, [String]) = switch shape {
        case .gpt2Small: ("GPT-2 124M", .gpt2Small, 4, 256, ["c_attn", "c_proj"])
        case .bench: ("6 x 384", GPT2Config(vocabularySize: 50257, positions: 1024, channels: 384, heads: 6, layers: 6), 8, 128,
                      ["c_attn", "c_proj", "c_fc"])
        }
        let model = try GPT2Model(randomlyInitialized: config, seed: 1)
        let pairs = try model.addLowRankAdapters(targets: targets, rank: 8, alpha: 8, seed: 2)
        var random = SeededGenerator(seed: 3)
        let tokens = (0..<(batch * sequence)).map { _ in Int32(random.next() % 50257) }
        let labels = (0..<(batch * sequence)).map { _ in Int32(random.next() % 50257) }
        func step() throws -> (forward: Double, backward: Double) {
            model.zeroGradients()
            let start = Date()
            if !split {
                try model.forwardBackward(tokens: tokens, targets: labels, batch: batch, sequence: sequence, headRows: headRows)
                return (Date().timeIntervalSince(start), 0)
            }
            try model.forward(tokens: tokens, targets: labels, batch: batch, sequence: sequence)
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
        let n = Double(batch * sequence)
        let blockWeights = Double(config.layers * 12 * config.channels * config.channels)
        let head = Double(config.vocabularySize * config.channels)
        let attention = Double(config.layers) * 4 * Double(batch * sequence * sequence * config.channels)
        let stepFlops = 2 * (2 * n * (blockWeights + head)) + 3 * attention
        let seconds = forwardSeconds + backwardSeconds
        let achieved = stepFlops * Double(steps) / seconds / 1e9
        let gemm = Timing.referenceGemmGigaflops()
        print(String(format: "%@ B%d T%d LoRA r8 on %d modules, %@: %.0f tokens/s (%.0f ms forward, %.0f ms backward per step), peak RSS %.0f MB",
                     label, batch, sequence, pairs.count, split ? "forward + backward" : "forwardBackward",
                     Double(steps * batch * sequence) / seconds, 1000 * forwardSeconds / Double(steps),
                     1000 * backwardSeconds / Double(steps), Timing.peakResidentMegabytes()))
        print(String(format: "%@ products: %.0f GFLOP per step, %.1f GFLOP/s achieved; BLAS alone now: %.1f GFLOP/s (%.0f%%)",
                     label, stepFlops / 1e9, achieved, gemm, 100 * achieved / gemm))
    }
}
