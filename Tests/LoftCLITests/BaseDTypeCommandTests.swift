// `--base-dtype` on finetune, eval and generate: a bf16 checkpoint kept in bf16 (auto)
// computes what its float32 upcast computes (the fixture's matrices fit in one tile, so the
// products are the same sgemm calls, bit for bit), a float32 checkpoint may be held in
// bf16, full fine-tuning trains float32 weights, and a bad value is a usage error.

import Foundation
import Testing
import TensorIO

@Suite struct BaseDTypeCommandTests {
    static let bf16Model = Repository.path("fixtures/llama/gqa/sharded-bf16")
    static let tokens = Repository.path("fixtures/llamatrain/tokens.npy")

    @Test func evalOfABF16CheckpointIsTheSameHeldInBF16OrFloat32() throws {
        var outputs: [String] = []
        for dtype in ["auto", "bf16", "f32"] {
            let result = loft("eval", "--base", Self.bf16Model, "--data", Self.tokens, "--seq", "16", "--base-dtype", dtype, "--json")
            #expect(result.status == 0, "\(dtype): \(result.stderr)")
            outputs.append(result.stdout)
        }
        #expect(outputs[0] == outputs[2] && outputs[1] == outputs[2] && outputs[0].contains("\"loss\""))
    }

    @Test func finetuneHoldsTheBaseInSixteenBitsAndTrainsFloat32() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        var adapters: [Data] = []
        for dtype in ["auto", "f32"] {
            let out = scratch.file("lora-\(dtype)")
            let result = loft("finetune", "--base", Self.bf16Model, "--data", Self.tokens, "--steps", "2", "--seq", "16", "--batch", "2",
                              "--base-dtype", dtype, "--out", out)
            #expect(result.status == 0, "\(dtype): \(result.stderr)")
            adapters.append(try Data(contentsOf: URL(fileURLWithPath: out + "/adapter_model.safetensors")))
        }
        #expect(adapters[0] == adapters[1], "the same adapter bytes from a bf16-held and a float32 base")
        // Full fine-tuning of a float32 checkpoint held in bf16: what is trained is float32.
        let full = scratch.file("full")
        let result = loft("finetune", "--base", Repository.path("fixtures/llama/gqa"), "--data", Self.tokens, "--steps", "1", "--seq", "16",
                          "--batch", "2", "--optimizer", "adamw", "--targets", "all", "--base-dtype", "bf16", "--out", full)
        #expect(result.status == 0, "\(result.stderr)")
        let reader = try TensorFile.open(full + "/model.safetensors")
        #expect(reader.tensors.allSatisfy { $0.dtype == .F32 })
    }

    /// Greedy generation from GPT-2 held in bf16 (the KV-cache path) equals generation from
    /// the same weights rounded to bf16 on disk and held in float32.
    @Test func generateFromABF16HeldBase() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let gpt2 = Repository.path("fixtures/training/gpt2")
        let rounded = scratch.file("gpt2-bf16")
        let convert = loft("convert", gpt2, rounded, "--dtype", "bf16")
        #expect(convert.status == 0, "\(convert.stderr)")
        try FileManager.default.copyItem(atPath: gpt2 + "/config.json", toPath: rounded + "/config.json")
        var outputs: [String] = []
        for (base, dtype) in [(gpt2, "bf16"), (rounded, "f32")] {
            let result = loft("generate", "--base", base, "--tokenizer", gpt2, "--prompt", "hello", "--max-tokens", "4",
                              "--temperature", "0", "--base-dtype", dtype, "--json")
            #expect(result.status == 0, "\(dtype): \(result.stderr)")
            outputs.append(result.stdout)
        }
        #expect(outputs[0] == outputs[1] && !outputs[0].isEmpty)
    }

    @Test func refusesAnUnknownDType() {
        let result = loft("eval", "--base", Self.bf16Model, "--data", Self.tokens, "--base-dtype", "f8")
        #expect(result.status == 64)
        #expect(result.stderr.contains("--base-dtype"))
    }
}
