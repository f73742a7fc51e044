// Generation with the key/value cache (LlamaCache.swift) gives the logits of a full forward
// over the whole context, for every LLaMA-layout fixture with its PEFT adapter attached: GQA,
// tied heads, llama3 rope, Mistral's and Phi-3's windows, Qwen2's biases and sliding layer,
// Qwen3's q/k norms, Phi-3's fused projections, Gemma 3's norms, scale and local rope. 20
// tokens, longer than every window: a prompt of 6 appended at once, then one token at a time.

import Testing
import TensorIO
@testable import Models

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families, [BaseDType?.none, .bf16, .q8_0, .q4_k])
func cachedLogitsEqualTheFullForward(fixture: String, frozen: BaseDType?) throws {
    let model = try LlamaFixtures.load(fixture)
    // A base held in bf16 or quantized (--base-dtype) reaches the cache's embedding,
    // projections and head too.
    if let frozen { model.storeFrozenWeights(as: frozen) }
    try LlamaFixtures.attachAdapter(model, fixture: fixture)
    let tokens: [Int32] = [3, 17, 5, 9, 1, 22, 14, 8, 0, 11, 19, 6, 3, 17, 40, 77, 95, 2, 50, 61]
    try model.forward(tokens: tokens, targets: nil, batch: 1, sequence: tokens.count)
    let full = Array(model.logits), V = model.vocabularySize
    let cache = try #require(model.makeKeyValueCache())
    var position = 6
    var logits = try cache.append(Array(tokens[..<position]))
    while true {
        let expected = Array(full[((position - 1) * V)..<(position * V)])
        #expect(Fixtures.relativeError(logits, expected) < 1e-5, "\(fixture) (\(String(describing: frozen))) at position \(position - 1)")
        guard position < tokens.count else { break }
        logits = try cache.append([tokens[position]])
        position += 1
    }
    #expect(cache.count == tokens.count)
    if frozen != nil {
        // Generation reads the 16-bit or quantized weights tile by tile; none was widened for good.
        let widened = model.parameters.filter { $0.shape.count == 2 && !$0.name.contains("lora_") && $0.storageDType == "f32" }
        #expect(widened.isEmpty, "\(fixture): widened \(widened.map(\.name))")
    }
}
