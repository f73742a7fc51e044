// loft merge against PEFT's merge_and_unload on float32 bases: every adapter variant, on
// tiny GPT-2 (Conv1D, fan_in_fan_out) and LLaMA (GQA) checkpoints. Expected files come from
// fixtures/generators/adapters.py; PEFT adds in float32, loft in float64 rounded once, so the
// two agree to float32 rounding, and untouched tensors are byte-identical to the base.

import Foundation
import Testing
import TensorIO
@testable import Adapters

@Suite struct PeftMergeTests {
    static let variants: [(base: String, adapter: String, expected: String)] = [
        ("gpt2-base.safetensors", "peft-gpt2-lora", "expected-gpt2-lora.safetensors"),
        ("gpt2-base.safetensors", "peft-gpt2-lora-bias", "expected-gpt2-lora-bias.safetensors"),
        ("gpt2-base.safetensors", "peft-gpt2-embedding", "expected-gpt2-embedding.safetensors"),
        ("llama-base.safetensors", "peft-llama-lora", "expected-llama-lora.safetensors"),
        ("llama-base.safetensors", "peft-llama-rslora-patterns", "expected-llama-rslora-patterns.safetensors"),
        ("llama-base.safetensors", "peft-llama-dora", "expected-llama-dora.safetensors"),
        ("llama-base.safetensors", "peft-llama-modules-to-save", "expected-llama-modules-to-save.safetensors"),
        ("llama-base.safetensors", "peft-llama-embedding", "expected-llama-embedding.safetensors"),
    ]

    @Test(arguments: variants.map(\.adapter))
    func mergedEqualsPeftMergeAndUnload(adapter: String) throws {
        let variant = Self.variants.first { $0.adapter == adapter }!
        let scratch = ScratchDirectory()
        let out = scratch.file("merged.safetensors")
        try merge(base: Fixture.path(variant.base), adapters: [AdapterSource(path: Fixture.path(adapter))], out: out)
        let merged = try LoadedTensors(out)
        let expected = try LoadedTensors(Fixture.path(variant.expected))
        let base = try LoadedTensors(Fixture.path(variant.base))
        var changed = 0
        for name in expected.names {
            let got = try #require(merged.values[name], "\(name) missing from the merge")
            #expect(merged.infos[name] == expected.infos[name])
            let want = expected.values[name]!
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= float32Tolerance(want), "\(name): max abs diff \(worst)")
            if base.bytes[name] == expected.bytes[name] {
                #expect(merged.bytes[name] == base.bytes[name], "\(name) is untouched but not byte-identical")
            } else {
                changed += 1
            }
        }
        #expect(changed > 0)
    }

    // Issue 11: the same adapter saved by PEFT with safe_serialization=False (adapter_model.bin)
    // merges to exactly the bytes of its safetensors twin.
    @Test func aBinAdapterMergesLikeItsSafetensorsTwin() throws {
        let scratch = ScratchDirectory()
        let bin = Repository.path("fixtures/pytorch/peft-gpt2-lora-bin")
        try merge(base: Fixture.path("gpt2-base.safetensors"), adapters: [AdapterSource(path: bin)], out: scratch.file("bin.safetensors"))
        try merge(base: Fixture.path("gpt2-base.safetensors"), adapters: [AdapterSource(path: Fixture.path("peft-gpt2-lora"))], out: scratch.file("st.safetensors"))
        #expect(FileManager.default.contentsEqual(atPath: scratch.file("bin.safetensors"), andPath: scratch.file("st.safetensors")))
        #expect(try Adapter(directory: bin).weightsPath.hasSuffix("adapter_model.bin"))
    }

    // Issue 10, defect 5: without lora_alpha merge used alpha = r (4); PEFT's default is 8.
    @Test func aConfigWithoutLoraAlphaUsesPEFTsDefault() throws {
        let scratch = ScratchDirectory()
        let adapter = try adapterWithConfig("peft-llama-lora", in: scratch) { $0.replacingOccurrences(of: #""lora_alpha": 8,"#, with: "") }
        #expect(try String(contentsOfFile: adapter + "/adapter_config.json", encoding: .utf8).contains("lora_alpha") == false)
        let out = scratch.file("merged.safetensors")
        try merge(base: Fixture.path("llama-base.safetensors"), adapters: [AdapterSource(path: adapter)], out: out)
        let merged = try LoadedTensors(out)
        let expected = try LoadedTensors(Fixture.path("expected-llama-lora.safetensors"))
        for name in expected.names {
            let want = expected.values[name]!
            let worst = zip(merged.values[name]!, want).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= float32Tolerance(want), "\(name): max abs diff \(worst)")
        }
    }

    @Test func rsloraAndPatternsGiveEachModuleItsOwnRankAndScale() throws {
        let adapter = try Adapter(directory: Fixture.path("peft-llama-rslora-patterns"))
        func update(_ module: String) -> LowRankUpdate { adapter.updates.first { $0.module == module }! }
        // rank_pattern {"layers.1.self_attn.v_proj": 6, "mlp\\.(up|down)_proj": 3, "q_proj": 2}, r 4;
        // alpha_pattern {"k_proj": 3, "layers.0.mlp.gate_proj": 5}, lora_alpha 8; use_rslora: alpha / sqrt(r).
        #expect(update("model.layers.0.self_attn.q_proj").rank == 2)
        #expect(update("model.layers.0.self_attn.q_proj").scale == 8 / 2.0.squareRoot())
        #expect(update("model.layers.1.self_attn.v_proj").rank == 6)
        #expect(update("model.layers.0.self_attn.v_proj").rank == 4)
        #expect(update("model.layers.1.mlp.up_proj").rank == 3)
        #expect(update("model.layers.0.self_attn.k_proj").scale == 3 / 2.0)
        #expect(update("model.layers.0.mlp.gate_proj").scale == 5 / 2.0)
        #expect(update("model.layers.1.mlp.gate_proj").scale == 8 / 2.0)
    }

    @Test func patternKeysFollowPeftsRegularExpressionRule() {
        #expect(PeftLoraSettings.patternMatches("q_proj", "model.layers.0.self_attn.q_proj"))
        #expect(PeftLoraSettings.patternMatches("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.q_proj"))
        #expect(!PeftLoraSettings.patternMatches("proj", "model.layers.0.self_attn.q_proj"))  // whole component only
        #expect(PeftLoraSettings.patternMatches("layers\\.[01]\\.mlp\\.up_proj", "model.layers.1.mlp.up_proj"))
        #expect(!PeftLoraSettings.patternMatches("layers.1.mlp", "model.layers.1.mlp.up_proj"))  // anchored at the end
    }

    @Test func embeddingOfATiedGpt2GetsItsOwnHead() throws {
        // GPT-2 ties lm_head to wte. PEFT's merge_and_unload changes both (one tensor); the
        // unmerged model only changes the input lookup, so loft writes lm_head.weight = old wte.
        let scratch = ScratchDirectory()
        let out = scratch.file("merged.safetensors")
        let report = try merge(base: Fixture.path("gpt2-base.safetensors"), adapters: [AdapterSource(path: Fixture.path("peft-gpt2-embedding"))], out: out)
        #expect(report.untied == ["lm_head.weight"])
        let merged = try LoadedTensors(out)
        let base = try LoadedTensors(Fixture.path("gpt2-base.safetensors"))
        #expect(merged.bytes["lm_head.weight"] == base.bytes["wte.weight"])
        #expect(merged.bytes["wte.weight"] != base.bytes["wte.weight"])
    }
}

@Suite struct BaseNameTests {
    @Test func namesAreTriedWithAndWithoutTheOuterPrefix() {
        #expect(BaseNames.candidates("transformer.h.0.attn.c_attn.weight") == ["transformer.h.0.attn.c_attn.weight", "h.0.attn.c_attn.weight", "model.h.0.attn.c_attn.weight"])
        #expect(BaseNames.candidates("model.layers.0.self_attn.q_proj.weight") == ["model.layers.0.self_attn.q_proj.weight", "layers.0.self_attn.q_proj.weight", "transformer.layers.0.self_attn.q_proj.weight"])
        #expect(BaseNames.candidates("lm_head.weight") == ["lm_head.weight", "transformer.lm_head.weight", "model.lm_head.weight"])
    }

    @Test func peftKeysFindGpt2TensorsInBothNamings() throws {
        // gpt2-base has hub names (h.0...), gpt2-base-bf16 save_pretrained names (transformer.h.0...).
        for base in ["gpt2-base.safetensors", "gpt2-base-bf16.safetensors"] {
            let scratch = ScratchDirectory()
            let report = try merge(base: Fixture.path(base), adapters: [AdapterSource(path: Fixture.path("peft-gpt2-lora"))], out: scratch.file("m.safetensors"))
            #expect(report.tensorsMerged == 8)
            #expect(report.modules.allSatisfy { $0.tensor.hasPrefix(base == "gpt2-base.safetensors" ? "h." : "transformer.h.") })
        }
    }
}
