// The adapters `loft finetune` writes, in PEFT's LoRA format (docs/formats.md):
//   DIR/adapter_model.safetensors  `base_model.model.<module path>.lora_A.weight` (r x in) and
//                                  `.lora_B.weight` (out x r), float32, metadata {"format": "pt"};
//   DIR/adapter_config.json        the keys PEFT 0.21 writes (sorted, as PEFT does), with
//                                  peft_type LORA, r, lora_alpha, target_modules, fan_in_fan_out
//                                  (true for GPT-2's Conv1D), lora_dropout 0, bias "none".
// Only the writer: every adapter, loft's own included, is read by Adapters' `Adapter`
// (attached to a model by AdapterAttachment.swift).

import Foundation
import Models
import TensorIO

public struct PEFTAdapterDescription: Sendable {
    public var rank: Int
    public var alpha: Float
    public var targetModules: [String]
    /// true for GPT-2 (Conv1D weights stored in x out).
    public var fanInFanOut: Bool
    /// "CAUSAL_LM" for GPT-2, nil for an MLP.
    public var taskType: String?
    public var baseModel: String?

    public init(rank: Int, alpha: Float, targetModules: [String], fanInFanOut: Bool, taskType: String?, baseModel: String?) {
        self.rank = rank
        self.alpha = alpha
        self.targetModules = targetModules
        self.fanInFanOut = fanInFanOut
        self.taskType = taskType
        self.baseModel = baseModel
    }
}

public enum PEFTAdapterFile {
    static let prefix = "base_model.model."

    public static func write(adapters: [LowRankAdapter], description d: PEFTAdapterDescription, directory: String) throws {
        try OutputTarget.makeDirectories(directory)
        var tensors: [TensorData] = []
        for adapter in adapters {
            tensors.append(tensorData(prefix + adapter.name + ".lora_A.weight", adapter.a, shape: adapter.aShape))
            tensors.append(tensorData(prefix + adapter.name + ".lora_B.weight", adapter.b, shape: adapter.bShape))
        }
        try SafetensorsWriter.write(to: SystemPath.join(directory, "adapter_model.safetensors"),
                                    tensors: tensors, metadata: [(key: "format", value: "pt")])
        let alpha: JSONValue = d.alpha == d.alpha.rounded() ? .integer(Int64(d.alpha)) : .double(Double(d.alpha))
        let members: [(String, JSONValue)] = [
            ("alora_invocation_tokens", .null), ("alpha_pattern", .object([])), ("arrow_config", .null),
            ("auto_mapping", .null), ("base_model_name_or_path", d.baseModel.map { .string($0) } ?? .null),
            ("bias", .string("none")), ("corda_config", .null), ("ensure_weight_tying", .bool(false)),
            ("eva_config", .null), ("exclude_modules", .null), ("fan_in_fan_out", .bool(d.fanInFanOut)),
            ("inference_mode", .bool(true)), ("init_lora_weights", .bool(true)), ("kasa_config", .null),
            ("layer_replication", .null), ("layers_pattern", .null), ("layers_to_transform", .null),
            ("loftq_config", .object([])), ("lora_alpha", alpha), ("lora_bias", .bool(false)),
            ("lora_dropout", .double(0)), ("lora_ga_config", .null), ("megatron_config", .null),
            ("megatron_core", .string("megatron.core")), ("modules_to_save", .null), ("monteclora_config", .null),
            ("peft_type", .string("LORA")), ("peft_version", .string("0.21.2")), ("qalora_group_size", .integer(16)),
            ("r", .integer(Int64(d.rank))), ("rank_pattern", .object([])), ("revision", .null),
            ("target_modules", .array(d.targetModules.map { .string($0) })), ("target_parameters", .null),
            ("task_type", d.taskType.map { .string($0) } ?? .null), ("trainable_token_indices", .null),
            ("use_bdlora", .null), ("use_dora", .bool(false)), ("use_qalora", .bool(false)), ("use_rslora", .bool(false)),
            ("velora_config", .null),
        ]
        let text = JSON.serialize(.object(members.map { JSONMember($0.0, $0.1) }), style: .indentedSortedKeys) + "\n"
        try AtomicOutputFile.write(text, to: SystemPath.join(directory, "adapter_config.json"))
    }
}

/// A float32 tensor viewing `buffer` (kept alive by the TensorData).
func tensorData(_ name: String, _ buffer: FloatBuffer, shape: [Int]) -> TensorData {
    TensorData(info: TensorInfo(name: name, dtype: .F32, shape: shape),
               bytes: UnsafeRawBufferPointer(start: buffer.pointer, count: buffer.count * 4), owner: buffer)
}
