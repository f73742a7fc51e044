// config.json's `quantization` entry as mlx-lm writes it:
//
//   "quantization": {"group_size": 64, "bits": 4, "mode": "affine",
//                    "model.layers.0.mlp.down_proj": {"group_size": 64, "bits": 8}, ...}
//
// The defaults apply to every module stored quantized (a `P.weight` of uint32 with
// `P.scales` and `P.biases`); a module path with an object of its own overrides them. mlx-lm
// also copies the entry to `quantization_config` (for the Hugging Face hub); loft reads
// `quantization` and, without it, a `quantization_config` that has no `quant_method` (one
// with a method is another library's: GPTQ, AWQ, bitsandbytes, ...).

public struct MLXQuantizationConfig: Sendable, Equatable {
    public let defaults: MLXAffine
    /// Per-module parameters (module path -> parameters), from the entries that are objects.
    public let overrides: [String: MLXAffine]

    public init(defaults: MLXAffine, overrides: [String: MLXAffine] = [:]) {
        self.defaults = defaults
        self.overrides = overrides
    }

    public func parameters(for module: String) -> MLXAffine { overrides[module] ?? defaults }

    /// The entry of `config`, or nil when the model is not MLX-quantized. Throws a one-line
    /// problem (without the path) when the entry is malformed or not the affine mode.
    public static func from(config: JSONValue?) throws -> MLXQuantizationConfig? {
        guard let config else { return nil }
        let entry: JSONValue
        let key: String
        if let q = config["quantization"] {
            entry = q
            key = "quantization"
        } else if let q = config["quantization_config"], q.objectMembers != nil, q["quant_method"] == nil, q["bits"] != nil {
            entry = q
            key = "quantization_config"
        } else {
            return nil
        }
        guard let members = entry.objectMembers else { throw MLXQuantizationError("\(key) is not an object") }
        if let mode = entry["mode"], mode.stringValue != "affine" {
            let name = mode.stringValue.map { "\"\($0)\"" } ?? "\(mode)"
            throw MLXQuantizationError("\(key).mode \(name) is not supported (loft reads MLX's affine quantization)")
        }
        let defaults = try parameters(entry, where: key)
        var overrides: [String: MLXAffine] = [:]
        for member in members where member.value.objectMembers != nil {
            overrides[member.key] = try parameters(member.value, where: "\(key).\(member.key)", fallback: defaults)
        }
        return MLXQuantizationConfig(defaults: defaults, overrides: overrides)
    }

    static func parameters(_ object: JSONValue, where key: String, fallback: MLXAffine? = nil) throws -> MLXAffine {
        if let mode = object["mode"], mode.stringValue != "affine" {
            throw MLXQuantizationError("\(key).mode \(mode.stringValue ?? "?") is not supported (loft reads MLX's affine quantization)")
        }
        func integer(_ name: String, _ fallbackValue: Int?) throws -> Int {
            guard let value = object[name] else {
                if let fallbackValue { return fallbackValue }
                throw MLXQuantizationError("\(key) has no \(name)")
            }
            guard let int = value.intValue else { throw MLXQuantizationError("\(key).\(name) is not an integer") }
            return int
        }
        let bits = try integer("bits", fallback?.bits)
        let groupSize = try integer("group_size", fallback?.groupSize)
        guard MLXAffine.supportedBits.contains(bits) else {
            throw MLXQuantizationError("\(key).bits \(bits) is not one of \(MLXAffine.supportedBits.map(String.init).joined(separator: ", "))")
        }
        guard groupSize > 0, groupSize <= 1 << 20 else { throw MLXQuantizationError("\(key).group_size \(groupSize) is not a positive group size") }
        return MLXAffine(bits: bits, groupSize: groupSize)
    }

    /// config.json's members without MLX's quantization entries (for a dense copy of the model).
    public static func removingEntries(_ members: [JSONMember]) -> [JSONMember] {
        members.filter { member in
            member.key == "quantization" || (member.key == "quantization_config" && member.value["quant_method"] == nil) ? false : true
        }
    }

    /// The entry loft writes (mlx-lm's keys and order): defaults, then per-module objects.
    public var json: JSONValue {
        var members = [JSONMember("group_size", .integer(Int64(defaults.groupSize))), JSONMember("bits", .integer(Int64(defaults.bits))),
                       JSONMember("mode", .string("affine"))]
        for (module, parameters) in overrides.sorted(by: { $0.key < $1.key }) {
            members.append(JSONMember(module, .object([JSONMember("group_size", .integer(Int64(parameters.groupSize))),
                                                       JSONMember("bits", .integer(Int64(parameters.bits)))])))
        }
        return .object(members)
    }
}

/// What is wrong with an MLX-quantized checkpoint, one line, prefixed with the file's path.
public struct MLXQuantizationError: Error, CustomStringConvertible, Equatable {
    public var path: String?
    public let problem: String
    public init(_ problem: String, path: String? = nil) {
        self.problem = problem
        self.path = path
    }
    public var description: String { (path.map { "\($0): " } ?? "") + problem }
}
