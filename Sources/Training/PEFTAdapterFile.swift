// Adapters in PEFT's LoRA format (shared/docs/adapters.md), written by `loft finetune` and
// read by `loft eval` / `loft generate` (loft's own or PEFT's):
//   DIR/adapter_model.safetensors  `base_model.model.<module path>.lora_A.weight` (r x in) and
//                                  `.lora_B.weight` (out x r), float32, metadata {"format": "pt"};
//   DIR/adapter_config.json        the keys PEFT 0.21 writes (sorted, as PEFT does), with
//                                  peft_type LORA, r, lora_alpha, target_modules, fan_in_fan_out
//                                  (true for GPT-2's Conv1D), lora_dropout 0, bias "none".
// Reading applies scale lora_alpha / r (or / sqrt(r) with use_rslora), rank_pattern and
// alpha_pattern; DoRA, embedding adapters, modules_to_save and pickled adapter_model.bin are
// refused with a message rather than applied wrongly.

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
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var tensors: [TensorData] = []
        for adapter in adapters {
            tensors.append(tensorData(prefix + adapter.name + ".lora_A.weight", adapter.a, shape: adapter.aShape))
            tensors.append(tensorData(prefix + adapter.name + ".lora_B.weight", adapter.b, shape: adapter.bShape))
        }
        try SafetensorsWriter.write(to: (directory as NSString).appendingPathComponent("adapter_model.safetensors"),
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
        try TrainingLog.write(text, to: (directory as NSString).appendingPathComponent("adapter_config.json"))
    }

    /// Attaches the adapter in `directory` to `model`'s projections; returns the modules adapted.
    @discardableResult
    public static func apply(directory: String, to model: TrainableModel) throws -> [String] {
        let configPath = (directory as NSString).appendingPathComponent("adapter_config.json")
        let weightsPath = (directory as NSString).appendingPathComponent("adapter_model.safetensors")
        let manager = FileManager.default
        if !manager.fileExists(atPath: weightsPath), manager.fileExists(atPath: (directory as NSString).appendingPathComponent("adapter_model.bin")) {
            throw TrainingError.invalidAdapter(path: directory, reason: "adapter_model.bin is a pickle, which loft does not load; convert it to adapter_model.safetensors (PEFT saves safetensors by default)")
        }
        guard let data = manager.contents(atPath: configPath), let text = String(data: data, encoding: .utf8) else {
            throw TrainingError.invalidAdapter(path: configPath, reason: "missing or unreadable (an adapter directory holds adapter_config.json and adapter_model.safetensors)")
        }
        let config = try JSON.parse(text)
        if let type = config["peft_type"]?.stringValue, type != "LORA" {
            throw TrainingError.invalidAdapter(path: configPath, reason: "peft_type \(type) is not supported (only LORA)")
        }
        if config["use_dora"]?.boolValue == true {
            throw TrainingError.invalidAdapter(path: configPath, reason: "DoRA adapters (use_dora) are not supported")
        }
        guard let defaultAlpha = config["lora_alpha"]?.doubleValue else {
            throw TrainingError.invalidAdapter(path: configPath, reason: "'lora_alpha' must be a number")
        }
        let rslora = config["use_rslora"]?.boolValue == true
        let alphaPattern = (config["alpha_pattern"]?.objectMembers ?? []).compactMap { m in m.value.doubleValue.map { (m.key, $0) } }

        let reader = try SafetensorsReader(path: weightsPath)
        var modules: [String: (a: TensorInfo?, b: TensorInfo?)] = [:]
        for info in reader.tensors {
            guard info.name.hasPrefix(prefix) else {
                throw TrainingError.invalidAdapter(path: weightsPath, reason: "tensor '\(info.name)' does not start with '\(prefix)'")
            }
            let rest = String(info.name.dropFirst(prefix.count))
            if rest.hasSuffix(".lora_A.weight") {
                modules[String(rest.dropLast(".lora_A.weight".count)), default: (nil, nil)].a = info
            } else if rest.hasSuffix(".lora_B.weight") {
                modules[String(rest.dropLast(".lora_B.weight".count)), default: (nil, nil)].b = info
            } else {
                throw TrainingError.invalidAdapter(path: weightsPath, reason: "tensor '\(info.name)' is not a LoRA factor (embedding adapters, lora_B biases, DoRA magnitudes and modules_to_save are not supported)")
            }
        }
        let available = model.projections.map(\.name)
        var applied: [String] = []
        for (module, factors) in modules.sorted(by: { $0.key < $1.key }) {
            guard let a = factors.a, let b = factors.b else {
                throw TrainingError.invalidAdapter(path: weightsPath, reason: "module '\(module)' has only one of lora_A and lora_B")
            }
            guard let target = [module, "transformer." + module, "layers." + module].first(where: available.contains) else {
                throw TrainingError.invalidAdapter(path: weightsPath, reason: "module '\(module)' is not in the model (its modules look like \(available.prefix(4).joined(separator: ", ")))")
            }
            guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == b.shape[1], a.shape[0] > 0 else {
                throw TrainingError.invalidAdapter(path: weightsPath, reason: "module '\(module)': lora_A \(a.shape) and lora_B \(b.shape) are not r x in and out x r")
            }
            let rank = a.shape[0]
            let alpha = alphaPattern.first(where: { moduleMatches(module, target: $0.0) })?.1 ?? defaultAlpha
            let scale = Float(rslora ? alpha / Double(rank).squareRoot() : alpha / Double(rank))
            do {
                try model.setLowRankAdapter(module: target, a: try floats(reader, a), b: try floats(reader, b), rank: rank, scale: scale)
            } catch let error as ModelError {
                throw TrainingError.invalidAdapter(path: weightsPath, reason: error.description)
            }
            applied.append(target)
        }
        return applied
    }

    static func floats(_ reader: TensorReader, _ info: TensorInfo) throws -> [Float] {
        let data = try reader.data(for: info.name)
        switch info.dtype {
        case .F32: return data.withElements(as: Float.self) { Array($0) }
        case .F64: return data.withElements(as: Double.self) { $0.map { Float($0) } }
        case .BF16: return data.withElements(as: UInt16.self) { $0.map { Float(bitPattern: UInt32($0) << 16) } }
        case .F16:
            let converted = try DTypeConversion.convert(data, to: .F32)
            return converted.withElements(as: Float.self) { Array($0) }
        default:
            throw TrainingError.invalidAdapter(path: reader.path, reason: "tensor '\(info.name)' has dtype \(info.dtype.rawValue), not a float type")
        }
    }
}

/// A float32 tensor viewing `buffer` (kept alive by the TensorData).
func tensorData(_ name: String, _ buffer: FloatBuffer, shape: [Int]) -> TensorData {
    TensorData(info: TensorInfo(name: name, dtype: .F32, shape: shape),
               bytes: UnsafeRawBufferPointer(start: buffer.pointer, count: buffer.count * 4), owner: buffer)
}
