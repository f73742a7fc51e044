// adapter_config.json, for the two layouts loft reads.
//
// PEFT (`peft_type: "LORA"`): scale = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora.
// A key left out takes LoraConfig's default (peft 0.21: r = 8, lora_alpha = 8), as PEFT
// itself does when it loads the file; r must equal every A factor's row count.
// rank_pattern and alpha_pattern override r and lora_alpha per module with PEFT's own rule
// (peft.utils.other.get_pattern_key): each key is a regular expression, it matches a module
// path (without `base_model.model.`) when the whole path matches `(.*\.)?(key)`, and the first
// key in file order wins. Settings whose adapters are not plain low-rank deltas on the saved
// base (aLoRA, layer replication, PiSSA/OLoRA/CorDA/LoftQ/LoRA-GA initialisation that
// rewrote the base weights, other LoRA variants) are refused here, before any tensor is read.
//
// MLX-LM: `fine_tune_type` ("lora" or "dora") and `lora_parameters.scale`, an absolute
// factor (mlx-lm's default 20.0), not alpha / r.

import TensorIO

import Glibc

public struct PeftLoraSettings {
    /// LoraConfig's defaults (peft 0.21), used when adapter_config.json leaves a key out.
    public static let defaultRank = 8
    public static let defaultAlpha = 8.0

    public var r: Int
    public var loraAlpha: Double
    public var useRslora: Bool
    public var fanInFanOut: Bool
    public var loraBias: Bool
    public var useDora: Bool
    public var rankPattern: [(key: String, value: Int)]
    public var alphaPattern: [(key: String, value: Double)]

    /// r for a module path (no `base_model.model.` prefix).
    public func rank(for module: String) -> Int {
        rankPattern.first { Self.patternMatches($0.key, module) }?.value ?? r
    }

    public func alpha(for module: String) -> Double {
        alphaPattern.first { Self.patternMatches($0.key, module) }?.value ?? loraAlpha
    }

    public func scale(for module: String) -> Double {
        let rank = Double(rank(for: module))
        return useRslora ? alpha(for: module) / rank.squareRoot() : alpha(for: module) / rank
    }

    /// PEFT's `re.match(rf"(.*\.)?({key})$", module)`. A key that is not a valid regular
    /// expression for Swift falls back to the literal rule (equal, or ends with "." + key).
    static func patternMatches(_ key: String, _ module: String) -> Bool {
        if let regex = try? Regex("(.*\\.)?(\(key))") {
            return (try? regex.wholeMatch(in: module)) != nil
        }
        return module == key || module.hasSuffix("." + key)
    }
}

enum AdapterConfigParser {
    /// Settings that make PEFT's merge something other than W + scale * B @ A, or that
    /// mean the saved base is not the base the adapter was trained against.
    static let variantSettings: [(key: String, reason: String)] = [
        ("alora_invocation_tokens", "an activated LoRA (aLoRA) applies only after its invocation tokens, so it has no weight-space delta (PEFT refuses to merge it too)"),
        ("layer_replication", "layer replication builds extra layers that share weights; the merged model would need new layer tensors (PEFT refuses to merge it too)"),
        ("arrow_config", "Arrow routes between several LoRA experts per token; there is no single delta"),
        ("use_bdlora", "block-diagonal LoRA (BD-LoRA) is not folded by loft"),
        ("monteclora_config", "MonteCLoRA is not folded by loft"),
        ("kasa_config", "KaSA rewrites the base weights' spectrum; it is not folded by loft"),
        ("use_qalora", "QA-LoRA pools inputs for a quantized base; it is not folded by loft"),
        ("trainable_token_indices", "trainable token rows are not folded by loft"),
        ("target_parameters", "LoRA on raw parameters (target_parameters) is not folded by loft"),
    ]

    /// init_lora_weights values after which the base weights themselves were changed.
    static let baseRewritingInits = ["pissa", "olora", "corda", "loftq", "lora_ga"]

    static func readJSON(_ path: String) throws -> JSONValue {
        let file = try MappedFile(path: path)
        do {
            return try JSON.parse(file.bytes)
        } catch let error as JSONError {
            throw AdapterError.invalidConfig(path: path, reason: error.message)
        }
    }

    static func peft(_ config: JSONValue, path: String) throws -> PeftLoraSettings {
        guard config.objectMembers != nil else { throw AdapterError.invalidConfig(path: path, reason: "not a JSON object") }
        let peftType = config["peft_type"]?.stringValue ?? "LORA"
        guard peftType.uppercased() == "LORA" else { throw AdapterError.unsupportedType(path: path, peftType: peftType) }
        for (key, reason) in variantSettings {
            if let value = config[key], isSet(value) {
                throw AdapterError.unfoldable(path: path, setting: "\(key) = \(JSON.serialize(value))", reason: reason)
            }
        }
        if let initValue = config["init_lora_weights"]?.stringValue {
            let lower = initValue.lowercased()
            if baseRewritingInits.contains(where: { lower.hasPrefix($0) }) {
                throw AdapterError.unfoldable(
                    path: path, setting: "init_lora_weights = \"\(initValue)\"",
                    reason: "this initialisation changed the base weights; convert the adapter first "
                        + "(PEFT: save_pretrained(..., path_initial_model_for_weight_conversion=...)), which writes init_lora_weights = true")
            }
            if lower == "mica" {
                throw AdapterError.unfoldable(path: path, setting: "init_lora_weights = \"mica\"", reason: "the MiCA variant is not folded by loft")
            }
        }
        guard let r = config["r"].map({ $0.intValue }) ?? PeftLoraSettings.defaultRank, r > 0 else {
            throw AdapterError.invalidConfig(path: path, reason: "r must be a positive integer")
        }
        guard let alpha = config["lora_alpha"].map({ $0.doubleValue }) ?? PeftLoraSettings.defaultAlpha, alpha.isFinite else {
            throw AdapterError.invalidConfig(path: path, reason: "lora_alpha must be a number")
        }
        var rankPattern: [(key: String, value: Int)] = []
        for member in config["rank_pattern"]?.objectMembers ?? [] {
            guard let value = member.value.intValue, value > 0 else {
                throw AdapterError.invalidConfig(path: path, reason: "rank_pattern[\"\(member.key)\"] must be a positive integer")
            }
            rankPattern.append((member.key, value))
        }
        var alphaPattern: [(key: String, value: Double)] = []
        for member in config["alpha_pattern"]?.objectMembers ?? [] {
            guard let value = member.value.doubleValue else {
                throw AdapterError.invalidConfig(path: path, reason: "alpha_pattern[\"\(member.key)\"] must be a number")
            }
            alphaPattern.append((member.key, value))
        }
        return PeftLoraSettings(
            r: r, loraAlpha: alpha,
            useRslora: config["use_rslora"]?.boolValue ?? false,
            fanInFanOut: config["fan_in_fan_out"]?.boolValue ?? false,
            loraBias: config["lora_bias"]?.boolValue ?? false,
            useDora: config["use_dora"]?.boolValue ?? false,
            rankPattern: rankPattern, alphaPattern: alphaPattern)
    }

    /// mlx-lm's adapter_config.json: (scale, isDoRA).
    static func mlx(_ config: JSONValue, path: String) throws -> (scale: Double, dora: Bool) {
        let type = config["fine_tune_type"]?.stringValue ?? "lora"
        guard type == "lora" || type == "dora" else {
            throw AdapterError.unfoldable(path: path, setting: "fine_tune_type = \"\(type)\"", reason: "only lora and dora adapters are low-rank deltas")
        }
        let parameters = config["lora_parameters"]
        var scale = 20.0
        if let value = parameters?["scale"] {
            guard let number = value.doubleValue else {
                throw AdapterError.invalidConfig(path: path, reason: "lora_parameters.scale must be a number")
            }
            scale = number
        }
        return (scale, type == "dora")
    }

    /// JSON null, false, an empty list or object mean "not used".
    static func isSet(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case let .bool(flag): return flag
        case let .array(items): return !items.isEmpty
        case let .object(members): return !members.isEmpty
        default: return true
        }
    }
}
