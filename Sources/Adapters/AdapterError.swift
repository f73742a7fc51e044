// Everything `loft merge`, `eval` and `generate` refuse in an adapter, each with the file,
// the tensor or the setting at fault.
// Problems found while matching an adapter to a base are collected and reported together:
// a user fixing a name mapping wants the whole list, not one name per run.

import TensorIO

public enum AdapterError: Error, CustomStringConvertible, Equatable {
    case notAnAdapter(path: String)
    case missingConfig(path: String)
    /// path: the adapter_config.json at fault.
    case invalidConfig(path: String, reason: String)
    case unsupportedType(path: String, peftType: String)
    /// A setting whose adapter cannot be folded into the weights as plain low-rank deltas.
    case unfoldable(path: String, setting: String, reason: String)
    case unpaired(path: String, tensors: [String])
    /// The config's r (after rank_pattern) is not the rank of the module's A factor.
    case rankMismatch(path: String, module: String, tensor: String, shape: [Int], configRank: Int)
    case badFactor(path: String, tensor: String, reason: String)
    /// Adapter tensors that name no base tensor or whose shape disagrees, all of them.
    case doesNotFitBase(path: String, base: String, problems: [String])
    case unsupportedCombination(tensor: String, reason: String)
    case unsupportedBaseDType(tensor: String, dtype: String)
    case nonFinite(tensor: String, count: Int)
    case invalidAdapterArgument(argument: String, reason: String)
    case invalidOutput(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notAnAdapter(path) where path.lowercased().hasSuffix(".gguf"):
            // llama.cpp's adapter file, which loft writes but does not read back.
            let parent = SystemPath.parent(path)
            return "\(path): a .gguf file, not an adapter directory: loft reads PEFT and MLX-LM adapters (a loft finetune run holds the PEFT one beside adapter.gguf: give its directory, \(parent.isEmpty ? "." : parent))"
        case let .notAnAdapter(path):
            return "\(path): not an adapter (expected adapter_config.json with adapter_model.safetensors or adapter_model.bin (PEFT) or adapters.safetensors (MLX-LM))"
        case let .missingConfig(path):
            return "\(path): adapter_config.json is missing (the scale lora_alpha / r cannot be read off the tensors)"
        case let .invalidConfig(path, reason):
            // path is the adapter_config.json itself: said once.
            return "\(path): \(reason)"
        case let .unsupportedType(path, peftType):
            return "\(path): peft_type \"\(peftType)\" is not a LoRA adapter; loft merges LORA (PEFT) and mlx-lm lora/dora adapters"
        case let .unfoldable(path, setting, reason):
            return "\(path): cannot fold into the base weights: \(setting): \(reason)"
        case let .unpaired(path, tensors):
            return "\(path): \(tensors.count) adapter tensor(s) without their partner:\n" + tensors.map { "  \($0)" }.joined(separator: "\n")
        case let .rankMismatch(path, module, tensor, shape, configRank):
            return "\(path): module \(module): \(tensor) has shape \(shape) (rank \(shape.first ?? 0)) but adapter_config.json gives r = \(configRank) (r, or rank_pattern)"
        case let .badFactor(path, tensor, reason):
            return "\(path): \(tensor): \(reason)"
        case let .doesNotFitBase(path, base, problems):
            return "\(path): \(problems.count) adapter tensor(s) do not fit the base \(base):\n" + problems.map { "  \($0)" }.joined(separator: "\n")
        case let .unsupportedCombination(tensor, reason):
            return "\(tensor): \(reason)"
        case let .unsupportedBaseDType(tensor, dtype):
            return "\(tensor): base dtype \(dtype) cannot take a delta (merge into F32, F16, BF16 or F64 tensors)"
        case let .nonFinite(tensor, count):
            return "\(tensor): \(count) merged value(s) are NaN or infinite (or overflow the dtype); nothing written. --allow-nonfinite writes them anyway"
        case let .invalidAdapterArgument(argument, reason):
            return "--adapter \(argument): \(reason)"
        case let .invalidOutput(path, reason):
            return "\(path): \(reason)"
        }
    }
}
