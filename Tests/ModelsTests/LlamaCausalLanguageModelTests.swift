// GPT-2 and LLaMA through the one protocol the training loop, eval and generate use
// (CausalLanguageModel), loaded through ModelSource and ModelFamilies from their directories.

import Testing
import TensorIO
@testable import Models

/// A family-agnostic training step: what `loft finetune` does with any model.
private func adaptedStep(_ model: CausalLanguageModel, tokens: [Int32], batch: Int, sequence: Int) throws -> (loss: Float, gradientNorm: Double) {
    try model.addLowRankAdapters(targets: model.defaultTargets, rank: 2, alpha: 2, seed: 5)
    var targets = [Int32](repeating: CrossEntropy.ignoreIndex, count: tokens.count)
    for b in 0..<batch { for t in 0..<(sequence - 1) { targets[b * sequence + t] = tokens[b * sequence + t + 1] } }
    model.zeroGradients()
    let loss = try #require(try model.forward(tokens: tokens, targets: targets, batch: batch, sequence: sequence))
    model.backward()
    let norm = model.lowRankAdapters.reduce(0.0) { total, pair in
        total + pair.gradientA.array.reduce(0.0) { $0 + Double($1 * $1) } + pair.gradientB.array.reduce(0.0) { $0 + Double($1 * $1) }
    }
    return (loss, norm.squareRoot())
}

@Test func bothFamiliesTrainThroughTheProtocol() throws {
    let llama = try ModelFamilies.load(ModelSource.open(LlamaFixtures.path("gqa")))
    let gpt2 = try ModelFamilies.load(ModelSource.open(Fixtures.path("gpt2-tiny")))
    let (ids, _) = try LlamaFixtures.tokensAndTargets("gqa")
    let expected = try Fixtures.floats(try LlamaFixtures.reader("gqa/expected-base.safetensors"), "loss")[0]
    for model in [llama, gpt2] {
        let (loss, norm) = try adaptedStep(model, tokens: ids.map { $0 % Int32(min(model.vocabularySize, 96)) }, batch: 2, sequence: 16)
        #expect(loss.isFinite && norm > 0, "\(model.summary)")
        // Fresh PEFT adapters (B = 0) leave the loss at the base model's.
        if model is LlamaModel { #expect(abs(loss - expected) < 1e-5 * expected) }
        // Defaults: LLaMA's seven projections; GPT-2's c_attn and c_proj (attention and MLP), as `loft finetune`.
        #expect(model.lowRankAdapters.count == (model is LlamaModel ? 14 : 6))
    }
}

@Test func configJSONReadsBackAsTheSameConfig() throws {
    for fixture in LlamaFixtures.models {
        let model = try LlamaFixtures.load(fixture)
        #expect(try LlamaConfig(json: model.configJSON, path: fixture) == model.config)
        #expect(model.configJSON["rms_norm_eps"] == .double(1e-5))
    }
    let gpt2 = try GPT2Model.load(path: Fixtures.path("gpt2-tiny"))
    #expect(try GPT2Config(json: gpt2.configJSON, path: "gpt2-tiny") == gpt2.config)
}

@Test func greedyNextTokenFromLogitsWithoutTargets() throws {
    let model = try ModelFamilies.load(ModelSource.open(LlamaFixtures.path("llama3-rope")))
    let (ids, _) = try LlamaFixtures.tokensAndTargets("llama3-rope")
    let prompt = Array(ids[0..<16])
    #expect(try model.forward(tokens: prompt, targets: nil, batch: 1, sequence: 16) == nil)
    let V = model.vocabularySize
    let last = Array(model.logits[(15 * V)..<(16 * V)])
    // transformers' logits of the same row (batch 0, position 15), from the fixture.
    let reference = Array(try Fixtures.floats(try LlamaFixtures.reader("llama3-rope/expected-base.safetensors"), "logits")[(15 * V)..<(16 * V)])
    #expect(last.indices.max { last[$0] < last[$1] } == reference.indices.max { reference[$0] < reference[$1] })
    model.releaseActivations()
    #expect(model.logits.isEmpty)
}

@Test func summariesNameTheFamilyAndShape() throws {
    let llama = try ModelFamilies.load(ModelSource.open(LlamaFixtures.path("gqa")))
    #expect(llama.summary.hasPrefix("LLaMA: 2 layers, hidden 32, 4 heads (2 key/value)"))
    #expect(llama.maxPositions == 64 && llama.parameterCount == llama.parameters.reduce(0) { $0 + $1.count })
    let tied = try ModelFamilies.load(ModelSource.open(LlamaFixtures.path("mha-tied")))
    #expect(tied.parameterCount == tied.parameters.reduce(0) { $0 + $1.count })
}
