// `loft merge` on the LLaMA-layout families (fixtures/families): an adapter `loft finetune`
// trains, folded into the weights (Phi-3's into the fused qkv_proj and gate_up_proj), gives a
// checkpoint whose plain logits equal the base with the adapter attached (atol = rtol = 1e-4).

import Foundation
import Testing
import TensorIO
import Models
import Training
@testable import Adapters

@Suite struct FamilyMergedLogitsTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func logits(_ model: LlamaModel, _ tokens: [Int32]) throws -> [Float] {
        try model.forward(tokens: tokens, targets: nil, batch: 1, sequence: tokens.count)
        return Array(model.logits)
    }

    @Test(arguments: ["mistral", "qwen2", "qwen3", "phi3", "gemma3"])
    func mergedLogitsEqualBasePlusFinetunedAdapter(family: String) throws {
        let path = root.appendingPathComponent("fixtures/families/\(family)").path
        let scratch = ScratchDirectory()
        let cycle: [UInt16] = [3, 17, 5, 9, 1, 22, 14, 8, 0, 11, 19, 6]
        let ids = (0..<600).map { cycle[$0 % cycle.count] }
        try Data(ids.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }).write(to: URL(fileURLWithPath: scratch.file("tokens.bin")))
        var request = FinetuneRequest(base: path, data: scratch.file("tokens.bin"), output: scratch.file("run"))
        request.batch = 4
        request.sequence = 16
        request.options.steps = 15
        request.options.rank = 4
        request.options.learningRate = 1e-2
        try FinetuneJob(request).run()

        // 18 tokens: longer than every fixture's sliding window.
        let tokens: [Int32] = [3, 17, 5, 9, 1, 22, 14, 8, 0, 11, 19, 6, 3, 17, 40, 77, 95, 2]
        let base = try LlamaModel.load(path: path)
        let plain = try logits(base, tokens)
        try base.attachAdapter(directory: scratch.file("run"), modelPath: path)
        let adapted = try logits(base, tokens)

        let out = scratch.file("merged.safetensors")
        try merge(base: path, adapters: [AdapterSource(path: scratch.file("run"))], out: out)
        let config = try LlamaConfig(contentsOf: path + "/config.json")
        let merged = try logits(LlamaModel(config: config, reader: SafetensorsReader(path: out)), tokens)

        #expect(merged.count == adapted.count && merged.count == tokens.count * 96)
        var mismatches = 0
        for (got, want) in zip(merged, adapted) where abs(got - want) > 1e-4 + 1e-4 * abs(want) { mismatches += 1 }
        #expect(mismatches == 0, "merged vs base + adapter: \(mismatches) of \(merged.count) logits differ")
        let moved = zip(plain, adapted).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-2, "the adapter moves the logits by only \(moved)")
    }
}
