// A checkpoint written by mlx-lm with affine quantization, seen as the dense model it stands
// for: each quantized module's `P.weight` (uint32, the packed bits) is presented in the
// scales' float type with its logical shape and dequantized on request, and `P.scales` /
// `P.biases` are hidden. ModelSource wraps a reader in it when config.json has MLX's
// `quantization` entry, so inspect, convert, merge, eval and finetune all read the weights
// the model computes with; `storageType(for:)` says how each was stored ("mlx-q4/g64").
//
// Every quantized module is checked when the checkpoint is opened (dtypes, the scales' and
// biases' shapes against the weight, the packed width against bits and group size), so a
// malformed file is refused in one line before any command starts.

import Compute

public final class MLXQuantizedReader: TensorReader {
    struct Module {
        let weight: TensorInfo
        let scales: TensorInfo
        let biases: TensorInfo
        let parameters: MLXAffine
        /// The dequantized weight's info (scales' dtype, logical shape).
        let dense: TensorInfo
    }

    public let inner: TensorReader
    public let quantization: MLXQuantizationConfig
    public let tensors: [TensorInfo]
    private let modules: [TensorNameKey: Module]

    public var path: String { inner.path }
    public var format: String { inner.format }
    public var metadata: [(key: String, value: String)] { inner.metadata }
    public var notes: [String] { inner.notes }
    public var otherEntries: [(name: String, value: String)] { inner.otherEntries }
    public var storageReader: TensorReader { inner.storageReader }

    /// Names of the quantized modules' weights, in file order.
    public var quantizedWeights: [String] { tensors.compactMap { modules[TensorNameKey($0.name)] == nil ? nil : $0.name } }

    public init(wrapping inner: TensorReader, quantization: MLXQuantizationConfig) throws {
        self.inner = inner
        self.quantization = quantization
        var byName: [TensorNameKey: TensorInfo] = [:]
        for tensor in inner.tensors { byName[TensorNameKey(tensor.name)] = tensor }
        var modules: [TensorNameKey: Module] = [:]
        var hidden = Set<TensorNameKey>()
        for scales in inner.tensors where scales.name.hasSuffix(".scales") {
            let module = String(scales.name.dropLast(".scales".count))
            // A float weight beside a `.scales` is some other model's parameter, not MLX's packing.
            guard let weight = byName[TensorNameKey(module + ".weight")], weight.dtype == .U32 else { continue }
            guard let biases = byName[TensorNameKey(module + ".biases")] else {
                throw MLXQuantizationError("\(module): \(scales.name) without \(module).biases (loft reads MLX's affine quantization, which has both)", path: inner.path)
            }
            let parameters = quantization.parameters(for: module)
            let dense = try Self.denseInfo(weight: weight, scales: scales, biases: biases, parameters: parameters, path: inner.path)
            modules[TensorNameKey(weight.name)] = Module(weight: weight, scales: scales, biases: biases, parameters: parameters, dense: dense)
            hidden.insert(TensorNameKey(scales.name))
            hidden.insert(TensorNameKey(biases.name))
        }
        self.modules = modules
        tensors = inner.tensors.compactMap { tensor in
            let key = TensorNameKey(tensor.name)
            if hidden.contains(key) { return nil }
            return modules[key]?.dense ?? tensor
        }
    }

    /// The dequantized weight's info, or the problem with the module's three tensors.
    static func denseInfo(weight: TensorInfo, scales: TensorInfo, biases: TensorInfo, parameters: MLXAffine, path: String) throws -> TensorInfo {
        func failure(_ problem: String) throws -> Never { throw MLXQuantizationError(problem, path: path) }
        let module = String(weight.name.dropLast(".weight".count))
        let described = "\(parameters.bits) bits, group size \(parameters.groupSize)"
        guard MLXAffine.floatTypes.contains(scales.dtype) else {
            try failure("\(scales.name): dtype \(scales.dtype.rawValue), scales are F32, F16 or BF16")
        }
        guard let last = weight.shape.last, let groups = scales.shape.last else {
            try failure("\(module): the weight and scales must have at least one dimension")
        }
        guard Array(scales.shape.dropLast()) == Array(weight.shape.dropLast()) else {
            try failure("\(scales.name): shape \(scales.shape) does not match \(weight.name)'s \(weight.shape)")
        }
        let (columns, overflow) = groups.multipliedReportingOverflow(by: parameters.groupSize)
        guard !overflow, parameters.packedWords(rowLength: columns) == last else {
            let expected = overflow ? "?" : parameters.packedWords(rowLength: columns).map(String.init) ?? "?"
            try failure("\(weight.name): \(last) packed words per row, \(described) and \(groups) groups per row need \(expected)")
        }
        guard biases.dtype == scales.dtype else {
            try failure("\(biases.name): dtype \(biases.dtype.rawValue) differs from the scales' \(scales.dtype.rawValue)")
        }
        guard scales.shape == biases.shape else {
            try failure("\(biases.name): shape \(biases.shape) differs from \(scales.name)'s \(scales.shape)")
        }
        let shape = Array(weight.shape.dropLast()) + [columns]
        guard TensorInfo.checkedSizes(shape: shape, dtype: .F32) != nil else { try failure("\(weight.name): shape \(shape) is too large") }
        return TensorInfo(name: weight.name, dtype: scales.dtype, shape: shape)
    }

    public func storageType(for name: String) -> String? {
        guard let module = modules[TensorNameKey(name)] else { return inner.storageType(for: name) }
        return "mlx-q\(module.parameters.bits)/g\(module.parameters.groupSize)"
    }

    public func info(for name: String) -> TensorInfo? {
        let key = TensorNameKey(name)
        if let module = modules[key] { return module.dense }
        guard let info = inner.info(for: name), !isHidden(info.name) else { return nil }
        return info
    }

    private func isHidden(_ name: String) -> Bool {
        for suffix in [".scales", ".biases"] where name.hasSuffix(suffix) {
            if modules[TensorNameKey(String(name.dropLast(suffix.count)) + ".weight")] != nil { return true }
        }
        return false
    }

    public func data(for name: String) throws -> TensorData {
        // Scales and biases stay readable by name (they are not listed).
        guard let module = modules[TensorNameKey(name)] else { return try inner.data(for: name) }
        let packed = try inner.data(for: module.weight.name)
        let scales = try DTypeConversion.convert(try inner.data(for: module.scales.name), to: .F32)
        let biases = try DTypeConversion.convert(try inner.data(for: module.biases.name), to: .F32)
        return try Self.dequantize(packed: packed, scales: scales, biases: biases, parameters: module.parameters, as: module.dense)
    }

    public func release(_ name: String) {
        guard let module = modules[TensorNameKey(name)] else { return inner.release(name) }
        inner.release(module.weight.name)
        inner.release(module.scales.name)
        inner.release(module.biases.name)
    }

    /// mx.dequantize: `packed` (uint32 rows), `scales` and `biases` widened to float32; the
    /// result in `dense.dtype`, each value rounded as mlx rounds in that type.
    static func dequantize(packed: TensorData, scales: TensorData, biases: TensorData, parameters: MLXAffine, as dense: TensorInfo) throws -> TensorData {
        let columns = dense.shape.last ?? 1
        let rows = columns == 0 ? 0 : dense.elementCount / columns
        let groups = columns / parameters.groupSize
        let rowBytes = packed.info.shape.last.map { $0 * 4 } ?? 0
        let out = ByteBuffer(count: dense.elementCount * 4)
        let values = out.bytes.bindMemory(to: Float.self)
        scales.withElements(as: Float.self) { scales in
            biases.withElements(as: Float.self) { biases in
                withExtendedLifetime(packed.owner) {
                    Parallel.forEachRange(count: rows, minimumChunk: max(1, 65536 / max(columns, 1))) { range in
                        for row in range {
                            parameters.dequantizeRow(
                                packed: UnsafeRawBufferPointer(rebasing: packed.bytes[(row * rowBytes)..<((row + 1) * rowBytes)]),
                                scales: UnsafeBufferPointer(rebasing: scales[(row * groups)..<((row + 1) * groups)]),
                                biases: UnsafeBufferPointer(rebasing: biases[(row * groups)..<((row + 1) * groups)]),
                                into: UnsafeMutableBufferPointer(rebasing: values[(row * columns)..<((row + 1) * columns)]),
                                type: dense.dtype)
                        }
                    }
                }
            }
        }
        let f32 = TensorData(info: TensorInfo(name: dense.name, dtype: .F32, shape: dense.shape), buffer: out)
        return dense.dtype == .F32 ? f32 : try DTypeConversion.convert(f32, to: dense.dtype)
    }
}

extension MLXQuantizedReader {
    /// `reader`, wrapped when `config` has MLX's quantization entry and the files hold at
    /// least one quantized module. Errors in the entry name config.json.
    public static func wrap(_ reader: TensorReader, config: JSONValue?, configPath: String?) throws -> TensorReader {
        let quantization: MLXQuantizationConfig?
        do {
            quantization = try MLXQuantizationConfig.from(config: config)
        } catch var error as MLXQuantizationError {
            error.path = configPath
            throw error
        }
        guard let quantization else { return reader }
        let wrapped = try MLXQuantizedReader(wrapping: reader, quantization: quantization)
        return wrapped.modules.isEmpty ? reader : wrapped
    }
}

extension MLXQuantizedReader: QuantizedTensorReader {
    /// A quantized module's 2-D weight as stored: the packed codes a view of the file, the
    /// scales and biases widened to float32.
    public func quantizedMatrix(for name: String) throws -> (matrix: QuantizedMatrix, transposed: Bool)? {
        guard let module = modules[TensorNameKey(name)], module.dense.shape.count == 2 else { return nil }
        let packed = try inner.data(for: module.weight.name)
        let scales = try DTypeConversion.convert(try inner.data(for: module.scales.name), to: .F32)
        let biases = try DTypeConversion.convert(try inner.data(for: module.biases.name), to: .F32)
        func owned(_ data: TensorData) -> ByteBuffer { ByteBuffer(copying: data.bytes) }
        // Codes nothing keeps alive (a reader of memory) are copied; a file's are a view of its mapping.
        let copy = packed.owner == nil ? ByteBuffer(copying: packed.bytes) : nil
        let matrix = try QuantizedMatrix(mlx: module.parameters, scaleType: module.dense.dtype, rows: module.dense.shape[0],
                                         columns: module.dense.shape[1], packed: copy.map { UnsafeRawBufferPointer($0.bytes) } ?? packed.bytes,
                                         owner: copy ?? packed.owner, scales: owned(scales), biases: owned(biases))
        return (matrix, false)
    }
}
