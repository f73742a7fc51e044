// Opening LLaMA checkpoints: sharded bf16 files upcast on load, tied heads, the config
// spellings of transformers 4 and 5, errors that name the tensor or file at fault, PEFT
// module names, and ModelFamilies picking the family.

import Foundation
import Testing
import TensorIO
@testable import Models

/// A copy of fixture `gqa` with `change` applied to its tensors, config.json beside it.
private func rewrittenCheckpoint(_ change: (inout [TensorData]) -> Void) throws -> TemporaryDirectory {
    let directory = try TemporaryDirectory()
    let reader = try LlamaFixtures.reader("gqa/model.safetensors")
    var tensors = try reader.tensors.map { try reader.data(for: $0.name) }
    change(&tensors)
    try SafetensorsWriter.write(to: directory.path + "/model.safetensors", tensors: tensors)
    try FileManager.default.copyItem(atPath: LlamaFixtures.path("gqa/config.json"), toPath: directory.path + "/config.json")
    return directory
}

@Test func shardedBFloat16CheckpointLoadsUpcastAndMatchesTransformers() throws {
    let model = try LlamaModel.load(path: LlamaFixtures.path("gqa/sharded-bf16"))
    let (ids, _) = try LlamaFixtures.tokensAndTargets("gqa")
    try model.forward(tokens: ids, targets: nil, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence)
    let expected = try LlamaFixtures.reader("gqa/expected-bf16.safetensors")
    #expect(Fixtures.relativeError(Array(model.logits), try Fixtures.floats(expected, "logits")) < 1e-5)
    // The same path through the index file.
    let viaIndex = try LlamaModel.load(path: LlamaFixtures.path("gqa/sharded-bf16/model.safetensors.index.json"))
    #expect(viaIndex.tokenEmbedding.value.array == model.tokenEmbedding.value.array)
}

@Test func configReadsGroupedHeadsTyingAndRopeScaling() throws {
    let gqa = try LlamaConfig(contentsOf: LlamaFixtures.path("gqa/config.json"))
    #expect(gqa.heads == 4 && gqa.keyValueHeads == 2 && gqa.headDimension == 8 && !gqa.tiedEmbeddings)
    #expect(try LlamaConfig(contentsOf: LlamaFixtures.path("mha-tied/config.json")).tiedEmbeddings)
    // transformers 5 writes rope_parameters; Llama 3.x checkpoints carry rope_theta + rope_scaling.
    let llama3 = RopeScaling.llama3(theta: 10000, factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalPositions: 32)
    #expect(try LlamaConfig(contentsOf: LlamaFixtures.path("llama3-rope/config.json")).rope == llama3)
    let old = try JSON.parse("""
        {"vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
         "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
         "rope_theta": 500000.0, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
         "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "tie_word_embeddings": true}
        """)
    let config = try LlamaConfig(json: old, path: "Llama-3.2-1B/config.json")
    #expect(config.rope == .llama3(theta: 500000, factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalPositions: 8192))
    #expect(config.headDimension == 64 && config.parameterCount == 1_235_814_400)
    // And the config we write reads back the same.
    #expect(try LlamaConfig(json: config.json, path: "written") == config)
}

@Test func unsupportedRopeTypeIsRefusedByName() throws {
    let json = try JSON.parse("""
        {"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
         "rope_scaling": {"type": "yarn", "factor": 4.0}}
        """)
    #expect(throws: ModelError.invalidConfig(path: "c.json", reason: "rope scaling type 'yarn' is not supported (default, linear and llama3 are)")) {
        try LlamaConfig(json: json, path: "c.json")
    }
}

@Test func missingTensorIsNamed() throws {
    let directory = try rewrittenCheckpoint { $0.removeAll { $0.info.name == "model.layers.1.mlp.up_proj.weight" } }
    #expect(throws: ModelError.missingTensor(path: directory.path + "/model.safetensors", name: "model.layers.1.mlp.up_proj.weight")) {
        try LlamaModel.load(path: directory.path + "/model.safetensors")
    }
}

@Test func untiedCheckpointWithoutHeadIsRefused() throws {
    let directory = try rewrittenCheckpoint { $0.removeAll { $0.info.name == "lm_head.weight" } }
    #expect(throws: ModelError.missingTensor(path: directory.path + "/model.safetensors", name: "lm_head.weight")) {
        try LlamaModel.load(path: directory.path)
    }
}

@Test func misShapedTensorIsNamedWithBothShapes() throws {
    let directory = try rewrittenCheckpoint { tensors in
        let index = tensors.firstIndex { $0.info.name == "model.layers.0.self_attn.k_proj.weight" }!
        let query = tensors.first { $0.info.name == "model.layers.0.self_attn.q_proj.weight" }!
        tensors[index] = TensorData(info: TensorInfo(name: "model.layers.0.self_attn.k_proj.weight", dtype: .F32, shape: [32, 32]),
                                    bytes: query.bytes, owner: query.owner)
    }
    #expect(throws: ModelError.shapeMismatch(path: directory.path + "/model.safetensors", name: "model.layers.0.self_attn.k_proj.weight",
                                             expected: [16, 32], found: [32, 32])) {
        try LlamaModel.load(path: directory.path)
    }
}

@Test func lonelySafetensorsFileNeedsItsConfig() throws {
    let directory = try TemporaryDirectory()
    try FileManager.default.copyItem(atPath: LlamaFixtures.path("gqa/model.safetensors"), toPath: directory.path + "/model.safetensors")
    #expect(throws: ModelError.self) { try LlamaModel.load(path: directory.path + "/model.safetensors") }
    #expect(throws: ModelError.self) { try ModelFamilies.load(ModelSource.open(directory.path + "/model.safetensors")) }
}

@Test func modelLoaderPicksTheFamily() throws {
    let llama = try ModelFamilies.load(ModelSource.open(LlamaFixtures.path("mha-tied")))
    #expect(llama is LlamaModel && llama.modelType == "llama" && llama.vocabularySize == 96 && !llama.fanInFanOut)
    let gpt2 = try ModelFamilies.load(ModelSource.open(Fixtures.path("gpt2-tiny")))
    #expect(gpt2 is GPT2Model && gpt2.architecture == "GPT2LMHeadModel" && gpt2.fanInFanOut)
    // A lone GPT-2 file: recognised by its tensor names.
    #expect(try ModelFamilies.family(of: ModelSource.open(Fixtures.path("gpt2-tiny/model-f16-unprefixed.safetensors"))).name == "gpt2")
}

@Test func projectionsCarryPeftModulePathsAndShapes() throws {
    let model = try LlamaFixtures.load("gqa")
    let modules = model.adaptableModules
    #expect(modules.count == 14)
    #expect(modules[0].name == "model.layers.0.self_attn.q_proj" && modules[0].inFeatures == 32 && modules[0].outFeatures == 32)
    #expect(modules[1].name == "model.layers.0.self_attn.k_proj" && modules[1].outFeatures == 16)
    #expect(modules[6].name == "model.layers.0.mlp.down_proj" && modules[6].inFeatures == 48 && modules[6].outFeatures == 32)
    // PEFT's suffix rule: "self_attn.v_proj" and "v_proj" name both layers' v_proj; "proj" names nothing.
    #expect(try model.projections(matching: ["self_attn.v_proj"]).map(\.name) == ["model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.v_proj"])
    #expect(throws: ModelError.self) { try model.projections(matching: ["proj"]) }
    let adapters = try model.addLowRankAdapters(targets: model.defaultTargets, rank: 2, alpha: 4, seed: 1)
    #expect(adapters.count == 14 && adapters.allSatisfy { $0.scale == 2 })
    // PEFT initialisation: B = 0, so the adapted model starts at the base model.
    #expect(adapters.allSatisfy { $0.b.array.allSatisfy { $0 == 0 } })
}

@Test func randomlyInitialisedSmolLMShapeHas135MParameters() {
    #expect(LlamaConfig.smolLM135M.parameterCount == 134_515_008)
}
