// Every adapter loft will not merge, and the message that says why. Each refusal happens
// before anything is written, and nothing appears at OUT.

import Foundation
import Testing
import TensorIO
@testable import Adapters

@Suite struct RefusalTests {
    let scratch = ScratchDirectory()
    var out: String { scratch.file("out.safetensors") }
    let llama = Fixture.path("llama-base.safetensors")

    func refusal(base: String? = nil, _ adapters: [AdapterSource], configure: (inout MergeOptions) -> Void = { _ in }) -> AdapterError? {
        let error = adapterError { try merge(base: base ?? llama, adapters: adapters, out: out, configure: configure) }
        #expect(!FileManager.default.fileExists(atPath: out), "a refused merge left a file at OUT")
        return error
    }

    @Test func everyTensorThatFitsNoBaseTensorIsListed() throws {
        let adapter = scratch.file("misfit")
        try writePeftAdapter(adapter, config: #"{"peft_type": "LORA", "r": 4, "lora_alpha": 8}"#, tensors: [
            f32Tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", [4, 30], .init(repeating: 0.1, count: 120)),
            f32Tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", [32, 4], .init(repeating: 0.1, count: 128)),
            f32Tensor("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight", [4, 32], .init(repeating: 0.1, count: 128)),
            f32Tensor("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight", [32, 4], .init(repeating: 0.1, count: 128)),
            f32Tensor("base_model.model.model.layers.0.attn.qkv.lora_A.weight", [4, 32], .init(repeating: 0.1, count: 128)),
            f32Tensor("base_model.model.model.layers.0.attn.qkv.lora_B.weight", [32, 4], .init(repeating: 0.1, count: 128)),
        ])
        let error = try #require(refusal([AdapterSource(path: adapter)]))
        guard case let .doesNotFitBase(path, _, problems) = error else { Issue.record("got \(error)"); return }
        #expect(path == adapter)
        #expect(problems.count == 3)
        let message = error.description
        #expect(message.contains("model.layers.0.self_attn.q_proj.lora_A.weight: delta B @ A is [32, 30] but base model.layers.0.self_attn.q_proj.weight is [32, 32]"))
        #expect(message.contains("model.layers.1.self_attn.k_proj.lora_A.weight: delta B @ A is [32, 32] but base model.layers.1.self_attn.k_proj.weight is [16, 32]"))
        #expect(message.contains("model.layers.0.attn.qkv.lora_A.weight: no base tensor model.layers.0.attn.qkv.weight"))
    }

    @Test func anAdapterForAnotherModelListsAllItsModules() throws {
        let error = try #require(refusal(base: Fixture.path("gpt2-base.safetensors"), [AdapterSource(path: Fixture.path("peft-llama-lora"))]))
        guard case let .doesNotFitBase(_, _, problems) = error else { Issue.record("got \(error)"); return }
        #expect(problems.count == 14)  // 7 projections x 2 layers, not just the first
    }

    @Test func conv1DWithoutFanInFanOutSaysSo() throws {
        let adapter = try adapterWithConfig("peft-gpt2-lora", in: scratch) { $0.replacingOccurrences(of: #""fan_in_fan_out": true"#, with: #""fan_in_fan_out": false"#) }
        let error = try #require(refusal(base: Fixture.path("gpt2-base.safetensors"), [AdapterSource(path: adapter)]))
        #expect(error.description.contains("h.0.attn.c_attn.weight is [32, 96] (it fits transposed: a Conv1D weight needs fan_in_fan_out = true)"))
    }

    @Test func unpairedFactorsAreAllNamed() throws {
        let adapter = scratch.file("unpaired")
        try writePeftAdapter(adapter, config: #"{"peft_type": "LORA", "r": 4, "lora_alpha": 8}"#, tensors: [
            f32Tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", [4, 32], .init(repeating: 0.1, count: 128)),
            f32Tensor("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", [16, 4], .init(repeating: 0.1, count: 64)),
        ])
        let error = try #require(refusal([AdapterSource(path: adapter)]))
        #expect(error == .unpaired(path: adapter + "/adapter_model.safetensors", tensors: [
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: no base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight: no base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight",
        ]))
    }

    @Test(arguments: [
        (#""alora_invocation_tokens": null"#, #""alora_invocation_tokens": [151, 9, 42]"#, "alora_invocation_tokens = [151,9,42]", "aLoRA"),
        (#""layer_replication": null"#, #""layer_replication": [[0, 2], [1, 2]]"#, "layer_replication = [[0,2],[1,2]]", "layer replication"),
        (#""init_lora_weights": true"#, #""init_lora_weights": "pissa_niter_4""#, #"init_lora_weights = "pissa_niter_4""#, "changed the base weights"),
        (#""init_lora_weights": true"#, #""init_lora_weights": "olora""#, #"init_lora_weights = "olora""#, "convert the adapter first"),
        (#""init_lora_weights": true"#, #""init_lora_weights": "corda""#, #"init_lora_weights = "corda""#, "changed the base weights"),
    ])
    func unfoldableSettingsAreRefusedByName(original: String, replacement: String, setting: String, reason: String) throws {
        let adapter = try adapterWithConfig("peft-llama-lora", in: scratch) { $0.replacingOccurrences(of: original, with: replacement) }
        let error = try #require(refusal([AdapterSource(path: adapter)]))
        guard case let .unfoldable(_, named, why) = error else { Issue.record("got \(error)"); return }
        #expect(named == setting)
        #expect(why.contains(reason))
    }

    // Issue 11: adapter_model.bin is read (as a PyTorch checkpoint, no code run), so this
    // adapter now fails on what it holds (an A without its B), not on its container.
    @Test func aPickleOnlyAdapterIsReadNotRefused() throws {
        do {
            _ = try Adapter(directory: Fixture.path("peft-pickle-only"))
            Issue.record("an A factor without its B was accepted")
        } catch let error as AdapterError {
            guard case let .unpaired(path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == Fixture.path("peft-pickle-only") + "/adapter_model.bin")
        }
    }

    @Test func anotherPeftTypeIsRefused() throws {
        let adapter = try adapterWithConfig("peft-llama-lora", in: scratch) { $0.replacingOccurrences(of: #""peft_type": "LORA""#, with: #""peft_type": "IA3""#) }
        let error = try #require(refusal([AdapterSource(path: adapter)]))
        #expect(error == .unsupportedType(path: adapter + "/adapter_config.json", peftType: "IA3"))
    }

    /// The config's path appears once in the message: `PATH/adapter_config.json: problem`.
    @Test func aBadConfigNamesItsFileOnce() throws {
        let adapter = try adapterWithConfig("peft-llama-lora", in: scratch) { $0.replacingOccurrences(of: #""r": 4"#, with: #""r": 0"#) }
        let error = try #require(refusal([AdapterSource(path: adapter)]))
        #expect(error.description == adapter + "/adapter_config.json: r must be a positive integer")
        try "{".write(toFile: adapter + "/adapter_config.json", atomically: true, encoding: .utf8)
        let parse = try #require(refusal([AdapterSource(path: adapter)]))
        #expect(parse.description.hasPrefix(adapter + "/adapter_config.json: "))
        #expect(parse.description.components(separatedBy: "adapter_config.json").count == 2, "\(parse)")
    }

    @Test func aConfigRankThatDisagreesWithTheTensorsIsRefused() throws {
        let adapter = try adapterWithConfig("peft-llama-lora", in: scratch) { $0.replacingOccurrences(of: #""r": 4"#, with: #""r": 8"#) }
        let error = try #require(refusal([AdapterSource(path: adapter)]))
        guard case let .rankMismatch(_, module, tensor, shape, configRank) = error else { Issue.record("got \(error)"); return }
        #expect(tensor == "base_model.model.\(module).lora_A.weight" && configRank == 8 && shape.first == 4)
        #expect(error.description.contains("module \(module): \(tensor) has shape \(shape) (rank 4) but adapter_config.json gives r = 8"))
    }

    @Test func nonFiniteMergedValuesAreRefusedUnlessAllowed() throws {
        // 300 * 300 * 4 * scale 2 = 720000: overflows float16 (max 65504).
        let adapter = scratch.file("huge")
        try writePeftAdapter(adapter, config: #"{"peft_type": "LORA", "r": 4, "lora_alpha": 8}"#, tensors: [
            f32Tensor("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", [4, 32], .init(repeating: 300, count: 128)),
            f32Tensor("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", [16, 4], .init(repeating: 300, count: 64)),
        ])
        let f16 = Fixture.path("llama-base-f16.safetensors")
        let error = try #require(refusal(base: f16, [AdapterSource(path: adapter)]))
        #expect(error == .nonFinite(tensor: "model.layers.0.self_attn.v_proj.weight", count: 512))
        #expect(error.description.contains("--allow-nonfinite"))
        try merge(base: f16, adapters: [AdapterSource(path: adapter)], out: out) { $0.allowNonFinite = true }
        let merged = try LoadedTensors(out)
        #expect(merged.values["model.layers.0.self_attn.v_proj.weight"]!.allSatisfy { $0 == .infinity })
    }

    @Test func doraCannotBeWeightedOrSubtracted() throws {
        let dora = Fixture.path("peft-llama-dora")
        let weighted = try #require(refusal([AdapterSource(path: dora, weight: 0.5)]))
        #expect(weighted.description.contains("is DoRA"))
        let subtracted = try #require(refusal([AdapterSource(path: dora)]) { $0.subtract = true })
        #expect(subtracted.description.contains("cannot be weighted (1.0) or subtracted"))
    }

    @Test func aDeltaIntoAnIntegerTensorIsRefused() throws {
        let base = scratch.file("int8.safetensors")
        let bytes = ByteBuffer(count: 32 * 32)
        try SafetensorsWriter.write(to: base, tensors: [TensorData(info: TensorInfo(name: "model.layers.0.self_attn.q_proj.weight", dtype: .I8, shape: [32, 32]), buffer: bytes)])
        let adapter = scratch.file("q")
        try writePeftAdapter(adapter, config: #"{"peft_type": "LORA", "r": 1, "lora_alpha": 1}"#, tensors: [
            f32Tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", [1, 32], .init(repeating: 1, count: 32)),
            f32Tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", [32, 1], .init(repeating: 1, count: 32)),
        ])
        let error = try #require(refusal(base: base, [AdapterSource(path: adapter)]))
        #expect(error == .unsupportedBaseDType(tensor: "model.layers.0.self_attn.q_proj.weight", dtype: "I8"))
    }

    @Test func adapterArgumentsParseTheirWeight() throws {
        #expect(try AdapterSource(argument: "runs/a:0.25") == AdapterSource(path: "runs/a", weight: 0.25))
        #expect(try AdapterSource(argument: "runs/a") == AdapterSource(path: "runs/a", weight: 1))
        // Text after the last ':' that is not a number is refused (a typo such as run:O.5),
        // unless the whole argument is an existing directory.
        #expect(throws: AdapterError.self) { try AdapterSource(argument: "c:/x:y") }
        #expect(throws: AdapterError.self) { try AdapterSource(argument: ":2") }
    }
}
