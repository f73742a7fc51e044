// Time per layer call at the GPT-2 124M shapes (B 4, T 256): where a training step goes.

import ArgumentParser
import Foundation
import Models

struct LayerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layers", abstract: "Milliseconds per layer call at GPT-2 124M shapes (B 4, T 256).")

    func run() throws {
        let B = 4, T = 256, C = 768, H = 12, V = 50257, N = B * T
        func time(_ label: String, repeats: Int = 3, _ body: () -> Void) {
            body()
            let start = Date()
            for _ in 0..<repeats { body() }
            print(String(format: "%-34@ %8.2f ms", label as NSString, 1000 * Date().timeIntervalSince(start) / Double(repeats)))
        }
        let x = FloatBuffer(count: N * 4 * C), y = FloatBuffer(count: N * 4 * C), w = FloatBuffer(count: 4 * C * C)
        time("c_attn forward (N x 768 x 2304)") {
            Linear.forward(output: y.pointer, input: x.pointer, weight: w.pointer, bias: w.pointer, rows: N, inFeatures: C,
                           outFeatures: 3 * C, layout: .inOut)
        }
        time("c_attn backward dx only") {
            Linear.backward(inputGradient: y.pointer, weightGradient: nil, biasGradient: nil, outputGradient: x.pointer, input: x.pointer,
                            weight: w.pointer, rows: N, inFeatures: C, outFeatures: 3 * C, layout: .inOut)
        }
        let qkv = FloatBuffer(count: N * 3 * C), out = FloatBuffer(count: N * C)
        let p = FloatBuffer(count: B * H * T * T), s = FloatBuffer(count: B * H * T * T)
        time("attention forward") {
            Attention.forward(output: out.pointer, probabilities: p.pointer, qkv: qkv.pointer, batch: B, sequence: T, channels: C, heads: H)
        }
        time("attention backward") {
            Attention.backward(qkvGradient: y.pointer, scratch: s.pointer, outputGradient: out.pointer, probabilities: p.pointer,
                               qkv: qkv.pointer, batch: B, sequence: T, channels: C, heads: H)
        }
        let mean = FloatBuffer(count: N), rstd = FloatBuffer(count: N)
        for i in 0..<C { w[i] = 1 }
        time("layernorm forward") {
            LayerNorm.forward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer, weight: w.pointer,
                              bias: w.pointer, rows: N, channels: C, epsilon: 1e-5)
        }
        time("layernorm backward (dx)") {
            LayerNorm.backward(inputGradient: y.pointer, weightGradient: nil, biasGradient: nil, outputGradient: x.pointer,
                               input: x.pointer, weight: w.pointer, mean: mean.pointer, rstd: rstd.pointer, rows: N, channels: C)
        }
        time("gelu forward (N x 3072)") { Activation.gelu.forward(output: y.pointer, input: x.pointer, count: N * 4 * C) }
        time("gelu backward") {
            Activation.gelu.backward(inputGradient: y.pointer, outputGradient: y.pointer, input: x.pointer, count: N * 4 * C)
        }
        let logits = FloatBuffer(count: N * V), head = FloatBuffer(count: V * C)
        time("head forward (N x 768 x 50257)", repeats: 1) {
            Linear.forward(output: logits.pointer, input: x.pointer, weight: head.pointer, bias: nil, rows: N, inFeatures: C,
                           outFeatures: V, layout: .outIn)
        }
        let targets = [Int32](repeating: 7, count: N)
        time("cross-entropy forward", repeats: 1) {
            _ = targets.withUnsafeBufferPointer { CrossEntropy.forward(logits: logits.pointer, targets: $0.baseAddress!, rows: N, classes: V) }
        }
        time("cross-entropy backward", repeats: 1) {
            targets.withUnsafeBufferPointer {
                CrossEntropy.backward(logitsToGradient: logits.pointer, targets: $0.baseAddress!, rows: N, classes: V, count: N)
            }
        }
    }
}
