// The committed LLaMA fixtures (fixtures/llama/, made by fixtures/generators/llama.py with
// transformers + peft): three tiny random LlamaForCausalLM checkpoints, their inputs, a PEFT
// adapter on all seven projections, and the reference logits, losses and gradients.

import Foundation
import Testing
import TensorIO
@testable import Models

enum LlamaFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/llama")

    /// gqa (4 heads over 2 key/value heads, untied head), mha-tied (tied embeddings),
    /// llama3-rope (llama3 rope scaling, head_dim 16).
    static let models = ["gqa", "mha-tied", "llama3-rope"]
    static let batch = 2, sequence = 16

    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }
    static func reader(_ relative: String) throws -> TensorReader { try SafetensorsReader(path: path(relative)) }

    static func load(_ model: String) throws -> LlamaModel { try LlamaModel.load(path: path(model)) }

    /// input ids and Hugging Face's shifted labels as targets (the last position predicts nothing).
    static func tokensAndTargets(_ model: String) throws -> ([Int32], [Int32]) {
        let ids = try Fixtures.ints(try reader("\(model)/input_ids.safetensors"), "input_ids")
        var targets = [Int32](repeating: CrossEntropy.ignoreIndex, count: ids.count)
        for b in 0..<batch { for t in 0..<(sequence - 1) { targets[b * sequence + t] = ids[b * sequence + t + 1] } }
        return (ids, targets)
    }

    /// Attaches the PEFT adapter of adapter/ (keys base_model.model.<module>.lora_{A,B}.weight,
    /// r 4, lora_alpha 8 in adapter_config.json, so scale 2). Returns the module paths.
    @discardableResult
    static func attachAdapter(_ model: LlamaModel, fixture: String) throws -> [String] {
        let adapter = try reader("\(fixture)/adapter/adapter_model.safetensors")
        let prefix = "base_model.model.", suffix = ".lora_A.weight"
        let modules = adapter.tensors.map(\.name).filter { $0.hasSuffix(suffix) }
            .map { String($0.dropFirst(prefix.count).dropLast(suffix.count)) }.sorted()
        for module in modules {
            let a = try Fixtures.floats(adapter, prefix + module + ".lora_A.weight")
            let b = try Fixtures.floats(adapter, prefix + module + ".lora_B.weight")
            try model.setLowRankAdapter(module: module, a: a, b: b, rank: 4, scale: 8 / 4)
        }
        return modules
    }
}
