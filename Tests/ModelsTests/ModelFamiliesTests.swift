// The family registry: config.json's model_type, else its architectures, else the tensor
// names pick the family; an unknown model_type is named with the file; a guessed GPT-2
// config leaves a note on the source.

import Foundation
import Testing
import TensorIO
@testable import Models

@Suite struct ModelFamiliesTests {
    @Test(arguments: [
        (Fixtures.path("gpt2-tiny"), "gpt2"),
        (Fixtures.path("gpt2-tiny/model-f16-unprefixed.safetensors"), "gpt2"),
        (LlamaFixtures.path("gqa"), "llama"),
        (LlamaFixtures.path("gqa/sharded-bf16/model.safetensors.index.json"), "llama"),
        (Fixtures.path("mlp"), "mlp"),
    ])
    func familyOfEachFixture(path: String, family: String) throws {
        let source = try ModelSource.open(path)
        #expect(try ModelFamilies.family(of: source).name == family)
        #expect(source.modelType == family)
    }

    @Test func architecturesAloneNameTheFamily() throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: LlamaFixtures.path("gqa/model.safetensors"), toPath: directory.path + "/model.safetensors")
        var config = try JSONFile.read(LlamaFixtures.path("gqa/config.json"))
        guard case var .object(members) = config else { Issue.record("config is not an object"); return }
        members.removeAll { $0.key == "model_type" }
        config = .object(members)
        _ = try directory.write("config.json", JSON.serialize(config, style: .indented))
        let model = try ModelFamilies.load(ModelSource.open(directory.path))
        #expect(model is LlamaModel)
    }

    @Test func unknownModelTypeNamesTheConfigFile() throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.path("gpt2-tiny/model.safetensors"), toPath: directory.path + "/model.safetensors")
        let config = try directory.write("config.json", #"{"model_type": "gemma2"}"#)
        #expect(throws: ModelError.invalidConfig(path: config, reason: "model_type 'gemma2' is not supported (loft knows gpt2, llama, mistral, qwen2, qwen3, phi3, gemma3_text)")) {
            try ModelFamilies.load(ModelSource.open(directory.path))
        }
    }

    @Test func tensorsOfNoFamily() throws {
        let source = try ModelSource.open(LlamaFixtures.path("gqa/input_ids.safetensors"))
        #expect(throws: ModelError.self) { try ModelFamilies.model(source) }
    }

    @Test func anMLPIsNotALanguageModel() throws {
        #expect(try ModelFamilies.model(ModelSource.open(Fixtures.path("mlp"))) is MLPModel)
        #expect(throws: ModelError.self) { try ModelFamilies.load(ModelSource.open(Fixtures.path("mlp"))) }
    }

    @Test func aGuessedGPT2ConfigLeavesANote() throws {
        let bare = try ModelSource.open(Fixtures.path("gpt2-tiny/model-f16-unprefixed.safetensors"))
        // That file has the directory's config.json beside it: no guess.
        _ = try ModelFamilies.load(bare)
        #expect(bare.notes.isEmpty)
        let directory = try TemporaryDirectory()
        // demo/model is 64 wide, so its config can be inferred (gpt2-tiny's 32 cannot).
        let demo = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("demo/model/model.safetensors").path
        try FileManager.default.copyItem(atPath: demo, toPath: directory.path + "/alone.safetensors")
        let alone = try ModelSource.open(directory.path + "/alone.safetensors")
        let model = try ModelFamilies.load(alone)
        #expect(model is GPT2Model)
        #expect(alone.notes.count == 1 && alone.notes[0].contains("64-wide heads"), "\(alone.notes)")
    }

    @Test func initializedFollowsTheConfigsFamily() throws {
        #expect(try ModelFamilies.initialized(config: LlamaFixtures.path("gqa/config.json"), seed: 1) is LlamaModel)
        #expect(try ModelFamilies.initialized(config: Fixtures.path("gpt2-tiny/config.json"), seed: 1) is GPT2Model)
        #expect(throws: ModelError.self) { try ModelFamilies.initialized(config: Fixtures.path("mlp/config.json"), seed: 1) }
    }

    /// Each LLaMA-layout family loads as LlamaModel configured by its layout, and names its
    /// own projections as PEFT does.
    @Test(arguments: [("mistral", "MistralForCausalLM", 7), ("qwen2", "Qwen2ForCausalLM", 7),
                      ("qwen3", "Qwen3ForCausalLM", 7), ("phi3", "Phi3ForCausalLM", 4), ("gemma3", "Gemma3ForCausalLM", 7)])
    func llamaLayoutFamiliesLoadByModelType(fixture: String, architecture: String, projections: Int) throws {
        let source = try ModelSource.open(LlamaFixtures.path(fixture))
        let model = try #require(try ModelFamilies.load(source) as? LlamaModel)
        let modelType = fixture == "gemma3" ? "gemma3_text" : fixture
        #expect(source.modelType == modelType && model.modelType == modelType && model.architecture == architecture)
        #expect(model.projections.count == projections * model.config.layers)
        #expect(model.defaultTargets.count == projections)
        #expect(try LlamaConfig(json: model.configJSON, path: fixture) == model.config, "config.json written back reads the same")
        #expect(model.parameterCount == model.parameters.reduce(0) { $0 + $1.count })
    }

    @Test func familySwitchesAreReadFromConfig() throws {
        let mistral = try LlamaConfig(contentsOf: LlamaFixtures.path("mistral/config.json"))
        #expect(mistral.windows == [6, 6])
        let qwen2 = try LlamaConfig(contentsOf: LlamaFixtures.path("qwen2/config.json"))
        #expect(qwen2.windows == [nil, 5] && qwen2.queryKeyValueBias && !qwen2.outputBias && qwen2.tiedEmbeddings)
        #expect(qwen2.rope == .default(theta: 1e6))
        let qwen3 = try LlamaConfig(contentsOf: LlamaFixtures.path("qwen3/config.json"))
        #expect(qwen3.headDimension == 12 && qwen3.queryWidth == 48 && qwen3.layout.queryKeyNorm && qwen3.windows == [nil, nil])
        let phi3 = try LlamaConfig(contentsOf: LlamaFixtures.path("phi3/config.json"))
        #expect(phi3.layout.fusedProjections && phi3.windows == [8, 8] && phi3.padTokenId == 0)
    }

    @Test func longropeIsRefusedClearly() throws {
        var json = try JSONFile.read(LlamaFixtures.path("phi3/config.json"))
        guard case var .object(members) = json else { Issue.record("config is not an object"); return }
        members.removeAll { $0.key == "rope_parameters" }
        members.append(JSONMember("rope_scaling", .object([JSONMember("type", .string("longrope")),
                                                           JSONMember("long_factor", .array([.double(1)])),
                                                           JSONMember("short_factor", .array([.double(1)]))])))
        json = .object(members)
        #expect(throws: ModelError.invalidConfig(path: "phi3/config.json",
                                                 reason: "rope scaling 'longrope' (Phi-3 128k, Phi-3.5) is not implemented; only default, linear and llama3 rope are")) {
            try LlamaConfig(json: json, path: "phi3/config.json")
        }
    }

    @Test func everyFamilyIsRegisteredOnce() {
        #expect(ModelFamilies.all.map(\.name) == ["gpt2", "llama", "mistral", "qwen2", "qwen3", "phi3", "gemma3_text", "mlp"])
        let types = ModelFamilies.all.flatMap(\.modelTypes)
        #expect(Set(types).count == types.count)
    }
}
