// Everything that can be wrong with a model's files or inputs, found before any training.

import TensorIO

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])
    case unsupportedDType(path: String, name: String, dtype: DType)
    case invalidConfig(path: String, reason: String)
    case cannotInferConfig(path: String, reason: String)
    case unknownTarget(target: String, modules: [String])
    case adapterMismatch(module: String, reason: String)
    /// A low-rank adapter of rank above min(in, out) of the module it adapts.
    case rankTooLarge(rank: Int, module: String, inFeatures: Int, outFeatures: Int)
    case invalidInput(reason: String)
    /// A stored tensor whose sizes are wrong (a quantized tensor's blocks or byte count).
    case invalidTensor(path: String, name: String, problem: String)

    public var description: String {
        switch self {
        case let .missingTensor(path, name): return "\(path): tensor '\(name)' is missing"
        case let .shapeMismatch(path, name, expected, found):
            return "\(path): tensor '\(name)' has shape \(found), expected \(expected)"
        case let .unsupportedDType(path, name, dtype):
            return "\(path): tensor '\(name)' has dtype \(dtype.rawValue); a model weight must be F32, F16, BF16 or F64"
        case let .invalidConfig(path, reason): return "\(path): invalid model config: \(reason)"
        case let .cannotInferConfig(path, reason): return "\(path): cannot infer the model config from the tensors: \(reason)"
        case let .unknownTarget(target, modules):
            // The names a target can use: each module's last component, once, in model order.
            var names: [String] = []
            for module in modules {
                let name = String(module.split(separator: ".").last ?? Substring(module))
                if !names.contains(name) { names.append(name) }
            }
            let example = modules.first.map { " or a module path such as \($0)" } ?? ""
            return "target '\(target)' matches no module of this model; valid names: \(names.joined(separator: ", ")), all\(example)"
        case let .adapterMismatch(module, reason): return "adapter for '\(module)': \(reason)"
        case let .rankTooLarge(rank, module, inFeatures, outFeatures):
            return "rank \(rank) is larger than module \(module) (\(inFeatures) in, \(outFeatures) out): give at most \(min(inFeatures, outFeatures))"
        case let .invalidInput(reason): return "invalid model input: \(reason)"
        case let .invalidTensor(path, name, problem): return "\(path): tensor \(name): \(problem)"
        }
    }
}

/// Reads a floating-point tensor into float32 (F16, BF16 and F64 converted exactly or
/// rounded once), checking its shape.
func loadFloats(_ reader: TensorReader, name: String, shape: [Int]) throws -> FloatBuffer {
    guard let info = reader.info(for: name) else { throw ModelError.missingTensor(path: reader.path, name: name) }
    guard info.shape == shape else { throw ModelError.shapeMismatch(path: reader.path, name: name, expected: shape, found: info.shape) }
    let data = try reader.data(for: name)
    defer { reader.release(name) }
    let buffer = FloatBuffer(tensorShape: shape)
    let out = buffer.pointer
    switch info.dtype {
    case .F32:
        data.withElements(as: Float.self) { if let base = $0.baseAddress { out.update(from: base, count: $0.count) } }
    case .F64:
        data.withElements(as: Double.self) { for i in 0..<$0.count { out[i] = Float($0[i]) } }
    case .BF16:
        // bfloat16 is the upper half of a float32.
        data.withElements(as: UInt16.self) { for i in 0..<$0.count { out[i] = Float(bitPattern: UInt32($0[i]) << 16) } }
    case .F16:
        data.withElements(as: UInt16.self) { for i in 0..<$0.count { out[i] = halfToFloat($0[i]) } }
    default:
        throw ModelError.unsupportedDType(path: reader.path, name: name, dtype: info.dtype)
    }
    return buffer
}

/// The parameter `name` (stored in the file as `stored`, default the same) as `baseDType`
/// says: a 2-D weight held in 16 bits when it resolves to bf16/f16 (the file's bits copied
/// when the file has that dtype, else rounded from float32 one tensor at a time), quantized
/// as the file stores it (auto, or the same type asked for) or quantized at load (q8_0, ...,
/// from float32 one tensor at a time), anything else float32. Every model starts frozen, so every 2-D weight may be held compact; one
/// that becomes trainable is widened (Parameter.setTrainable).
func loadParameter(_ reader: TensorReader, name: String, stored: String? = nil, shape: [Int], baseDType: BaseDType) throws -> Parameter {
    let file = stored ?? name
    guard shape.count == 2, let info = reader.info(for: file) else {
        return Parameter(name: name, shape: shape, value: try loadFloats(reader, name: file, shape: shape))
    }
    if let held = try loadQuantized(reader, name: name, file: file, shape: shape, baseDType: baseDType) { return held }
    let dtype: CompactDType
    switch baseDType.resolved(for: info.dtype) {
    case .bf16: dtype = .bfloat16
    case .f16: dtype = .float16
    case .auto, .f32: return Parameter(name: name, shape: shape, value: try loadFloats(reader, name: file, shape: shape))
    default:
        let floats = try loadFloats(reader, name: file, shape: shape)
        let parameter = Parameter(name: name, shape: shape, value: floats)
        parameter.storeQuantized(baseDType.quantizedType!)
        return parameter
    }
    guard info.shape == shape else { throw ModelError.shapeMismatch(path: reader.path, name: file, expected: shape, found: info.shape) }
    if (info.dtype == .BF16 && dtype == .bfloat16) || (info.dtype == .F16 && dtype == .float16) {
        let data = try reader.data(for: file)
        defer { reader.release(file) }
        let matrix = CompactMatrix(rows: shape[0], columns: shape[1], dtype: dtype)
        data.withElements(as: UInt16.self) { if let base = $0.baseAddress { matrix.bits.update(from: base, count: min($0.count, matrix.count)) } }
        return Parameter(name: name, shape: shape, compact: matrix)
    }
    let floats = try loadFloats(reader, name: file, shape: shape)
    return Parameter(name: name, shape: shape, compact: CompactMatrix(rows: shape[0], columns: shape[1], dtype: dtype, rounding: floats.pointer))
}

/// IEEE binary16 to float32, exact (subnormals, infinities and NaN included); written out
/// so it does not depend on the platform having Float16.
func halfToFloat(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    if exponent == 0 {
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}
