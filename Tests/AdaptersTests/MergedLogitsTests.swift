// The merged GPT-2 computes what base + adapter computes: its logits, from a plain float64
// GPT-2 forward written out below, equal the logits of the *unmerged* PEFT model (from the
// generator) to PEFT's own standard, atol = rtol = 1e-4. For the embedding adapter this is
// the test of untying: a merge that changed the tied head as well would be off by ~0.4.

import Foundation
import Testing
import TensorIO
@testable import Adapters

@Suite struct MergedLogitsTests {
    @Test(arguments: ["lora", "lora-bias", "embedding"])
    func mergedLogitsEqualBasePlusAdapterLogits(variant: String) throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("merged.safetensors")
        try merge(base: Fixture.path("gpt2-base.safetensors"), adapters: [AdapterSource(path: Fixture.path("peft-gpt2-\(variant)"))], out: out)
        let weights = try LoadedTensors(out)
        let reference = try LoadedTensors(Fixture.path("logits-gpt2-\(variant).safetensors"))
        let tokens = reference.values["tokens"]!.map { Int($0) }
        let logits = TinyGPT2(weights).logits(tokens)
        let want = reference.values["logits"]!
        #expect(logits.count == want.count)
        for (got, expected) in zip(logits, want) {
            #expect(abs(got - expected) <= 1e-4 + 1e-4 * abs(expected), "\(got) vs \(expected)")
        }
    }
}

/// GPT-2 (hub naming, Conv1D weights `in x out`, tanh GELU, layer-norm eps 1e-5) in float64.
struct TinyGPT2 {
    let w: [String: [Double]]
    let shapes: [String: [Int]]

    init(_ tensors: LoadedTensors) {
        w = tensors.values
        shapes = tensors.infos.mapValues(\.shape)
    }

    var width: Int { shapes["wte.weight"]![1] }
    var layers: Int { shapes.keys.filter { $0.hasSuffix(".ln_1.weight") }.count }
    let heads = 2

    func logits(_ tokens: [Int]) -> [Double] {
        let d = width, t = tokens.count
        var x = [Double](repeating: 0, count: t * d)
        for (i, token) in tokens.enumerated() {
            for j in 0..<d { x[i * d + j] = w["wte.weight"]![token * d + j] + w["wpe.weight"]![i * d + j] }
        }
        for layer in 0..<layers {
            let p = "h.\(layer)."
            let qkv = linear(layerNorm(x, p + "ln_1"), p + "attn.c_attn", rows: t)
            let attended = attention(qkv, tokens: t)
            let projected = linear(attended, p + "attn.c_proj", rows: t)
            for i in x.indices { x[i] += projected[i] }
            let hidden = linear(layerNorm(x, p + "ln_2"), p + "mlp.c_fc", rows: t).map(gelu)
            let mlp = linear(hidden, p + "mlp.c_proj", rows: t)
            for i in x.indices { x[i] += mlp[i] }
        }
        x = layerNorm(x, "ln_f")
        let head = w["lm_head.weight"] ?? w["wte.weight"]!  // vocab x d either way
        let vocab = head.count / d
        var out = [Double](repeating: 0, count: t * vocab)
        for i in 0..<t { for v in 0..<vocab { out[i * vocab + v] = (0..<d).reduce(0) { $0 + x[i * d + $1] * head[v * d + $1] } } }
        return out
    }

    func layerNorm(_ x: [Double], _ name: String) -> [Double] {
        let d = width
        var out = x
        for row in 0..<(x.count / d) {
            let slice = x[row * d ..< (row + 1) * d]
            let mean = slice.reduce(0, +) / Double(d)
            let variance = slice.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
            for j in 0..<d {
                out[row * d + j] = (x[row * d + j] - mean) / (variance + 1e-5).squareRoot() * w[name + ".weight"]![j] + w[name + ".bias"]![j]
            }
        }
        return out
    }

    /// Conv1D: y = x W + b with W stored `in x out`.
    func linear(_ x: [Double], _ name: String, rows: Int) -> [Double] {
        let shape = shapes[name + ".weight"]!
        let (n, m) = (shape[0], shape[1])
        let weight = w[name + ".weight"]!, bias = w[name + ".bias"]!
        var out = [Double](repeating: 0, count: rows * m)
        for i in 0..<rows {
            for k in 0..<n where x[i * n + k] != 0 {
                for j in 0..<m { out[i * m + j] += x[i * n + k] * weight[k * m + j] }
            }
            for j in 0..<m { out[i * m + j] += bias[j] }
        }
        return out
    }

    func attention(_ qkv: [Double], tokens t: Int) -> [Double] {
        let d = width, hd = width / heads
        var out = [Double](repeating: 0, count: t * d)
        for h in 0..<heads {
            for i in 0..<t {
                var scores = (0...i).map { j in
                    (0..<hd).reduce(0.0) { $0 + qkv[i * 3 * d + h * hd + $1] * qkv[j * 3 * d + d + h * hd + $1] } / Double(hd).squareRoot()
                }
                let top = scores.max()!
                scores = scores.map { exp($0 - top) }
                let total = scores.reduce(0, +)
                for j in 0...i {
                    for c in 0..<hd { out[i * d + h * hd + c] += scores[j] / total * qkv[j * 3 * d + 2 * d + h * hd + c] }
                }
            }
        }
        return out
    }

    func gelu(_ x: Double) -> Double {
        0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }
}
