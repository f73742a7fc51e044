// A LoRA adapter read from its directory and sorted into per-module updates: the one reader
// and rule set (config parsing, scale, rank/alpha patterns, refusals) behind `loft merge`
// (MergePlan) and `loft eval` / `generate` (AttachmentPlan), for PEFT's, mlx-lm's and loft's
// own adapters (loft writes PEFT's format).
//
// Files: DIR/adapter_config.json, and the weights in one of `weightFiles` (first found wins).
//
// PEFT keys (after `base_model.model.`): `<module>.lora_A.weight` (r x in), `.lora_B.weight`
// (out x r), `.lora_B.bias` (out, lora_bias), `.lora_embedding_A` (r x vocab),
// `.lora_embedding_B` (dim x r), `.lora_magnitude_vector` (DoRA, out), `<module>.base_layer.<p>`
// (a saved embedding layer: replaces the base `<module>.<p>`), and any other key is a
// modules_to_save tensor that replaces the base tensor of that name.
// MLX-LM keys (no prefix): `<module>.lora_a` (in x r), `.lora_b` (r x out), `.m` (DoRA).
// Factors are kept in float64 and in PEFT's orientation (A: r x k, B: n x r), so the merge
// has one formula: delta = scale * B @ A, used as is or transposed.

import Compute
import TensorIO

public enum AdapterFormat: String, Sendable {
    case peft
    case mlx
}

/// How B @ A lines up with the stored base tensor.
public enum DeltaOrientation: Sendable, Equatable {
    /// `out x in` Linear weight: W += scale * B @ A.
    case direct
    /// Conv1D (fan_in_fan_out) or embedding (`vocab x dim`): W += scale * (B @ A)ᵀ.
    case transposed
    /// MLX: decided from the base tensor's shape.
    case fromBaseShape
}

public struct LowRankUpdate {
    /// Module path without `base_model.model.`, e.g. `model.layers.0.self_attn.q_proj`.
    public let module: String
    /// The adapter's key for the A factor, as written in the file (for messages).
    public let aKey: String
    public let isEmbedding: Bool
    public let orientation: DeltaOrientation
    public let rank: Int
    /// lora_alpha after alpha_pattern (PEFT only).
    public let alpha: Double?
    public let scale: Double
    /// Columns of A (r x aColumns) and rows of B (bRows x r), in PEFT's orientation.
    public let aColumns: Int
    public let bRows: Int
    /// `lora_B.bias` (bRows values), added as scale * bias.
    public let bias: [Double]?
    /// DoRA magnitude (one per output feature).
    public let magnitude: [Double]?

    /// The factors as stored (views into the adapter file: a float64 copy of every factor
    /// would outweigh the adapter itself, so each is widened only while its tensor merges).
    let storedA: TensorData
    let storedB: TensorData
    /// MLX stores lora_a = Aᵀ and lora_b = Bᵀ.
    let storedTransposed: Bool

    /// A, r x aColumns, row-major, float64.
    public var a: [Double] { Self.widen(storedA, transpose: storedTransposed) }
    /// B, bRows x r, row-major, float64.
    public var b: [Double] { Self.widen(storedB, transpose: storedTransposed) }

    static func widen(_ data: TensorData, transpose: Bool) -> [Double] {
        // The dtype was checked when the adapter was read.
        let values = try! Adapter.decodeDoubles(data, path: "")
        guard transpose else { return values }
        return DoubleMatrix(rows: data.info.shape[0], columns: data.info.shape[1], values: values).transposed().values
    }
}

public struct TensorReplacement {
    /// The adapter's key.
    public let key: String
    /// The base tensor name it replaces, before name mapping.
    public let target: String
    public let data: TensorData
}

public final class Adapter {
    public let path: String
    public let format: AdapterFormat
    /// The weights file read.
    public let weightsPath: String
    public let updates: [LowRankUpdate]
    public let replacements: [TensorReplacement]
    /// PEFT settings (nil for MLX).
    public let peftSettings: PeftLoraSettings?

    public static let peftPrefix = "base_model.model."

    /// The weight files an adapter directory may hold, in the order looked for, with the
    /// reader that opens each. PEFT's `safe_serialization=False` writes adapter_model.bin, a
    /// PyTorch checkpoint: read by the format table (no pickled code is ever run).
    static let weightFiles: [(name: String, format: AdapterFormat, open: (String) throws -> TensorReader)] = [
        ("adapter_model.safetensors", .peft, { try SafetensorsReader(path: $0) }),
        ("adapters.safetensors", .mlx, { try SafetensorsReader(path: $0) }),
        ("adapter_model.bin", .peft, { try TensorFile.open($0) }),
    ]

    /// The weights of the adapter in `directory`: its format, file and an open reader.
    static func openWeights(_ directory: String) throws -> (format: AdapterFormat, path: String, reader: TensorReader) {
        for file in weightFiles where fileExists(directory + "/" + file.name) {
            guard fileExists(directory + "/adapter_config.json") else { throw AdapterError.missingConfig(path: directory) }
            let path = directory + "/" + file.name
            return (file.format, path, try file.open(path))
        }
        throw AdapterError.notAnAdapter(path: directory)
    }

    /// Whether `path` is a directory holding an adapter (its config and a weights file):
    /// what inspect and convert tell apart from a model directory.
    public static func isAdapterDirectory(_ path: String) -> Bool {
        PathStatus.isDirectory(path) && fileExists(SystemPath.join(path, "adapter_config.json"))
            && weightFiles.contains { fileExists(SystemPath.join(path, $0.name)) }
    }

    public init(directory: String) throws {
        path = directory
        let configPath = directory + "/adapter_config.json"
        let reader: TensorReader
        (format, weightsPath, reader) = try Self.openWeights(directory)
        let config = try AdapterConfigParser.readJSON(configPath)
        switch format {
        case .peft:
            let settings = try AdapterConfigParser.peft(config, path: configPath)
            peftSettings = settings
            (updates, replacements) = try Self.peftUpdates(reader, settings: settings, path: weightsPath)
        case .mlx:
            let (scale, _) = try AdapterConfigParser.mlx(config, path: configPath)
            peftSettings = nil
            updates = try Self.mlxUpdates(reader, scale: scale, path: weightsPath)
            replacements = []
        }
    }

    /// Pieces of one module gathered by key suffix.
    private struct Parts {
        var a: String?, b: String?, bias: String?, magnitude: String?
        var embedding = false
    }

    private static func peftUpdates(
        _ reader: TensorReader, settings: PeftLoraSettings, path: String
    ) throws -> ([LowRankUpdate], [TensorReplacement]) {
        var parts: [String: Parts] = [:]
        var order: [String] = []
        var replacements: [TensorReplacement] = []
        func note(_ module: String, _ update: (inout Parts) -> Void) {
            if parts[module] == nil { order.append(module); parts[module] = Parts() }
            update(&parts[module]!)
        }
        for info in reader.tensors {
            let key = info.name
            let name = key.hasPrefix(peftPrefix) ? String(key.dropFirst(peftPrefix.count)) : key
            if let module = name.strippingSuffix(".lora_A.weight") { note(module) { $0.a = key } }
            else if let module = name.strippingSuffix(".lora_B.weight") { note(module) { $0.b = key } }
            else if let module = name.strippingSuffix(".lora_B.bias") { note(module) { $0.bias = key } }
            else if let module = name.strippingSuffix(".lora_embedding_A") { note(module) { $0.a = key; $0.embedding = true } }
            else if let module = name.strippingSuffix(".lora_embedding_B") { note(module) { $0.b = key; $0.embedding = true } }
            else if let module = name.strippingSuffix(".lora_magnitude_vector") ?? name.strippingSuffix(".lora_magnitude_vector.weight") {
                note(module) { $0.magnitude = key }
            } else if let range = name.range(of: ".base_layer.") {
                let target = String(name[..<range.lowerBound]) + "." + String(name[range.upperBound...])
                replacements.append(TensorReplacement(key: key, target: target, data: try reader.data(for: key)))
            } else {
                replacements.append(TensorReplacement(key: key, target: name, data: try reader.data(for: key)))
            }
        }
        var unpaired: [String] = []
        for module in order {
            let p = parts[module]!
            let aName = p.embedding ? "lora_embedding_A" : "lora_A.weight"
            let bName = p.embedding ? "lora_embedding_B" : "lora_B.weight"
            if p.a == nil || p.b == nil {
                let have = [p.a, p.b, p.bias, p.magnitude].compactMap { $0 }
                let missing = p.a == nil ? aName : bName
                unpaired.append("\(have.joined(separator: ", ")): no \(peftPrefix)\(module).\(missing)")
            }
        }
        guard unpaired.isEmpty else { throw AdapterError.unpaired(path: path, tensors: unpaired) }

        var updates: [LowRankUpdate] = []
        for module in order {
            let p = parts[module]!
            let a = try factor(reader, p.a!, path: path)
            let b = try factor(reader, p.b!, path: path)
            let rank = a.info.shape[0]
            guard b.info.shape[1] == rank else {
                throw AdapterError.badFactor(path: path, tensor: p.b!, reason: "shape \(b.info.shape) has \(b.info.shape[1]) columns but \(p.a!) has rank \(rank)")
            }
            let configRank = settings.rank(for: module)
            guard configRank == rank else {
                throw AdapterError.rankMismatch(path: path, module: module, tensor: p.a!, shape: a.info.shape, configRank: configRank)
            }
            let bias = try p.bias.map { try vector(reader, $0, length: b.info.shape[0], path: path) }
            let magnitude = try p.magnitude.map { try vector(reader, $0, length: nil, path: path) }
            updates.append(LowRankUpdate(
                module: module, aKey: p.a!, isEmbedding: p.embedding,
                orientation: p.embedding || settings.fanInFanOut ? .transposed : .direct,
                rank: rank, alpha: settings.alpha(for: module), scale: settings.scale(for: module),
                aColumns: a.info.shape[1], bRows: b.info.shape[0], bias: bias, magnitude: magnitude,
                storedA: a, storedB: b, storedTransposed: false))
        }
        return (updates, replacements)
    }

    private static func mlxUpdates(_ reader: TensorReader, scale: Double, path: String) throws -> [LowRankUpdate] {
        var parts: [String: Parts] = [:]
        var order: [String] = []
        var unknown: [String] = []
        for info in reader.tensors {
            let key = info.name
            let module: String
            if let m = key.strippingSuffix(".lora_a") { module = m; parts[m, default: Parts()].a = key }
            else if let m = key.strippingSuffix(".lora_b") { module = m; parts[m, default: Parts()].b = key }
            else if let m = key.strippingSuffix(".m") { module = m; parts[m, default: Parts()].magnitude = key }
            else { unknown.append(key); continue }
            if !order.contains(module) { order.append(module) }
        }
        if !unknown.isEmpty {
            throw AdapterError.badFactor(path: path, tensor: unknown.joined(separator: ", "), reason: "not an mlx-lm LoRA key (.lora_a, .lora_b, .m)")
        }
        var unpaired: [String] = []
        for module in order where parts[module]!.a == nil || parts[module]!.b == nil {
            let p = parts[module]!
            let have = [p.a, p.b, p.magnitude].compactMap { $0 }
            unpaired.append("\(have.joined(separator: ", ")): no \(module).\(p.a == nil ? "lora_a" : "lora_b")")
        }
        guard unpaired.isEmpty else { throw AdapterError.unpaired(path: path, tensors: unpaired) }
        return try order.map { module in
            let p = parts[module]!
            // mlx-lm stores lora_a as in x r and lora_b as r x out: the transposes of PEFT's.
            let a = try factor(reader, p.a!, path: path)
            let b = try factor(reader, p.b!, path: path)
            let rank = a.info.shape[1]
            guard b.info.shape[0] == rank else {
                throw AdapterError.badFactor(path: path, tensor: p.b!, reason: "rank \(b.info.shape[0]) but \(p.a!) has rank \(rank)")
            }
            let magnitude = try p.magnitude.map { try vector(reader, $0, length: nil, path: path) }
            return LowRankUpdate(
                module: module, aKey: p.a!, isEmbedding: false, orientation: .fromBaseShape, rank: rank, alpha: nil, scale: scale,
                aColumns: a.info.shape[0], bRows: b.info.shape[1], bias: nil, magnitude: magnitude,
                storedA: a, storedB: b, storedTransposed: true)
        }
    }

    private static func factor(_ reader: TensorReader, _ name: String, path: String) throws -> TensorData {
        let data = try reader.data(for: name)
        guard data.info.shape.count == 2, data.info.shape.allSatisfy({ $0 > 0 }) else {
            throw AdapterError.badFactor(path: path, tensor: name, reason: "shape \(data.info.shape) is not a non-empty matrix")
        }
        try checkFloat(data, path: path)
        return data
    }

    private static func checkFloat(_ data: TensorData, path: String) throws {
        guard data.info.dtype.isFloatingPoint, DTypeConversion.canConvert(from: data.info.dtype, to: .F64) else {
            throw AdapterError.badFactor(path: path, tensor: data.info.name, reason: "dtype \(data.info.dtype.rawValue) is not a float type")
        }
    }

    private static func vector(_ reader: TensorReader, _ name: String, length: Int?, path: String) throws -> [Double] {
        let data = try reader.data(for: name)
        guard data.info.shape.count == 1, length == nil || data.info.shape[0] == length else {
            let wanted = length.map { "[\($0)]" } ?? "a vector"
            throw AdapterError.badFactor(path: path, tensor: name, reason: "shape \(data.info.shape), expected \(wanted)")
        }
        return try decodeDoubles(data, path: path)
    }

    static func decodeDoubles(_ data: TensorData, path: String) throws -> [Double] {
        try checkFloat(data, path: path)
        let count = data.info.elementCount
        var values = [Double](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { destination in
            try DTypeConversion.convert(from: data.info.dtype, source: data.bytes, to: .F64, destination: destination, count: count)
        }
        return values
    }
}

/// A small float64 matrix (adapter factors are tiny next to the base).
struct DoubleMatrix {
    var rows: Int
    var columns: Int
    var values: [Double]
    var shape: [Int] { [rows, columns] }

    func transposed() -> DoubleMatrix {
        var out = [Double](repeating: 0, count: values.count)
        for i in 0..<rows { for j in 0..<columns { out[j * rows + i] = values[i * columns + j] } }
        return DoubleMatrix(rows: columns, columns: rows, values: out)
    }
}

extension String {
    func strippingSuffix(_ suffix: String) -> String? {
        hasSuffix(suffix) && count > suffix.count ? String(dropLast(suffix.count)) : nil
    }
}

import Glibc

func fileExists(_ path: String) -> Bool { PathStatus.isRegularFile(path) }

func directoryExists(_ path: String) -> Bool { PathStatus.isDirectory(path) }
