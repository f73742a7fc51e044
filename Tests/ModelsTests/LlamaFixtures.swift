// The committed LLaMA fixtures (fixtures/llama/, made by fixtures/generators/llama.py with
// transformers + peft): three tiny random LlamaForCausalLM checkpoints, their inputs, a PEFT
// adapter on all seven projections, and the reference logits, losses and gradients; and the
// LLaMA-layout families of fixtures/families/ (generators/families.py), in the same layout.

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
    /// Under fixtures/families: mistral (sliding window 6 < 16 tokens), qwen2 (q/k/v biases,
    /// tied head, rope_theta 1e6, layer 1 sliding), qwen3 (q_norm/k_norm, head_dim 12), phi3
    /// (fused qkv_proj and gate_up_proj, sliding window 8), gemma3 ((1 + w) and sandwich norms,
    /// GeGLU, scaled embeddings, query_pre_attn_scalar, a sliding layer with its own rope base).
    static let families = ["mistral", "qwen2", "qwen3", "phi3", "gemma3"]
    static let batch = 2, sequence = 16

    /// A file of a fixture: `gqa/config.json` under fixtures/llama, `qwen2/...` under fixtures/families.
    static func path(_ relative: String) -> String {
        let fixture = relative.split(separator: "/").first.map(String.init) ?? relative
        let root = families.contains(fixture) ? directory.deletingLastPathComponent().appendingPathComponent("families") : directory
        return root.appendingPathComponent(relative).path
    }
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
