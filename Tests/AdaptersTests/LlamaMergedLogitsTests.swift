// Issue 6: an adapter `loft finetune` trains on a LLaMA checkpoint (fixtures/llama/gqa, GQA,
// untied head), folded by `loft merge`, gives a checkpoint whose plain logits equal the base
// with the adapter attached (PEFT's standard: atol = rtol = 1e-4 in float32).

import Foundation
import Testing
import TensorIO
import Models
import Training
@testable import Adapters

@Suite struct LlamaMergedLogitsTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var gqa: String { root.appendingPathComponent("fixtures/llama/gqa").path }

    func logits(_ model: LlamaModel, _ tokens: [Int32]) throws -> [Float] {
        try model.forward(tokens: tokens, targets: nil, batch: 1, sequence: tokens.count)
        return Array(model.logits)
    }

    @Test func mergedLlamaLogitsEqualBasePlusFinetunedAdapter() throws {
        let scratch = ScratchDirectory()
        // A learnable cycle of 12 ids (vocabulary 96) as a raw uint16 token file.
        let cycle: [UInt16] = [3, 17, 5, 9, 1, 22, 14, 8, 0, 11, 19, 6]
        let ids = (0..<600).map { cycle[$0 % cycle.count] }
        try Data(ids.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }).write(to: URL(fileURLWithPath: scratch.file("tokens.bin")))
        var request = FinetuneRequest(base: gqa, data: scratch.file("tokens.bin"), output: scratch.file("run"))
        request.batch = 4
        request.sequence = 16
        request.options.steps = 15
        request.options.rank = 4
        request.options.learningRate = 1e-2
        try FinetuneJob(request).run()

        let tokens: [Int32] = [3, 17, 5, 9, 1, 22, 14, 8, 0, 11, 19, 6, 3, 17, 40, 77, 95, 2]
        let base = try LlamaModel.load(path: gqa)
        let plain = try logits(base, tokens)
        let plan = try base.attachAdapter(directory: scratch.file("run"), modelPath: gqa)
        #expect(plan.branches.count == 14)  // seven projections in each of two layers
        let adapted = try logits(base, tokens)

        let out = scratch.file("merged.safetensors")
        try merge(base: gqa, adapters: [AdapterSource(path: scratch.file("run"))], out: out)
        let config = try LlamaConfig(contentsOf: gqa + "/config.json")
        let merged = try logits(LlamaModel(config: config, reader: SafetensorsReader(path: out)), tokens)

        #expect(merged.count == adapted.count && merged.count == tokens.count * 96)
        var mismatches = 0
        for (got, want) in zip(merged, adapted) where abs(got - want) > 1e-4 + 1e-4 * abs(want) { mismatches += 1 }
        #expect(mismatches == 0, "merged vs base + adapter: \(mismatches) of \(merged.count) logits differ")
        let moved = zip(plain, adapted).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-2, "the adapter moves the logits by only \(moved)")
    }
}
