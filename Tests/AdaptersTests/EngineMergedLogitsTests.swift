// Issue 5 with loft's own GPT-2 engine: the merged checkpoint, loaded plainly, gives the
// logits that the base with the adapter attached gives (PEFT's standard: atol = rtol = 1e-4
// in float32). The adapted engine is also held to PEFT's recorded logits, so both sides of
// the comparison are anchored in the reference, not only in each other. Every GPT-2 variant:
// plain LoRA attaches as the engine's low-rank branch, the lora_B bias and embedding adapters
// are folded into its weights (the embedding one also unties the head, as merge does).

import Foundation
import Testing
import TensorIO
import Models
import Training
@testable import Adapters

@Suite struct EngineMergedLogitsTests {
    /// tiny_gpt2() in fixtures/generators/adapters.py.
    let config = GPT2Config(vocabularySize: 100, positions: 32, channels: 32, heads: 2, layers: 2)

    func logits(_ model: GPT2Model, _ tokens: [Int32]) throws -> [Float] {
        try model.forward(tokens: tokens, batch: 1, sequence: tokens.count)
        return Array(model.logits)
    }

    func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-4 + 1e-4 * abs(b) }

    @Test(arguments: [("lora", 8, 0), ("lora-bias", 0, 4), ("embedding", 0, 1)])
    func mergedModelLogitsEqualBasePlusAdapterLogits(variant: String, branches: Int, folded: Int) throws {
        let reference = try LoadedTensors(Fixture.path("logits-gpt2-\(variant).safetensors"))
        let tokens = reference.values["tokens"]!.map { Int32($0) }
        let peftLogits = reference.values["logits"]!.map { Float($0) }

        let base = try GPT2Model(config: config, reader: SafetensorsReader(path: Fixture.path("gpt2-base.safetensors")))
        let plain = try logits(base, tokens)
        let plan = try base.attachAdapter(directory: Fixture.path("peft-gpt2-\(variant)"), modelPath: Fixture.path("gpt2-base.safetensors"))
        // lora: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj in both layers; lora-bias: c_attn
        // weight and bias in both layers; embedding: wte.
        #expect(plan.branches.count == branches && plan.foldedTensors.count == folded)
        let adapted = try logits(base, tokens)

        let scratch = ScratchDirectory()
        let out = scratch.file("merged.safetensors")
        try merge(base: Fixture.path("gpt2-base.safetensors"), adapters: [AdapterSource(path: Fixture.path("peft-gpt2-\(variant)"))], out: out)
        let merged = try logits(GPT2Model(config: config, reader: SafetensorsReader(path: out)), tokens)

        #expect(merged.count == adapted.count && adapted.count == peftLogits.count)
        var mismatches = 0
        for (got, want) in zip(merged, adapted) where !close(got, want) { mismatches += 1 }
        #expect(mismatches == 0, "merged vs base + adapter: \(mismatches) of \(merged.count) logits differ")
        for (got, want) in zip(adapted, peftLogits) where !close(got, want) { mismatches += 1 }
        #expect(mismatches == 0, "base + adapter vs PEFT: \(mismatches) of \(adapted.count) logits differ")
        // The adapter must move the logits well past the tolerance, or the test shows nothing.
        let moved = zip(plain, adapted).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-2, "the adapter moves the logits by only \(moved)")
    }
}
