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
        let config = try directory.write("config.json", #"{"model_type": "qwen2"}"#)
        #expect(throws: ModelError.invalidConfig(path: config, reason: "model_type 'qwen2' is not supported (loft knows gpt2, llama)")) {
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

    @Test func everyFamilyIsRegisteredOnce() {
        #expect(ModelFamilies.all.map(\.name) == ["gpt2", "llama", "mlp"])
        let types = ModelFamilies.all.flatMap(\.modelTypes)
        #expect(Set(types).count == types.count)
    }
}
