// A 2-D matrix held as a file stores it in a block quantization: a GGML block type (Q8_0,
// Q4_K, ...) or MLX's affine quantization (packed codes, one scale and bias per group). The
// bytes are a view of the file's mapping (or a buffer of loft's own when quantized at load);
// nothing is widened here but the rows x columns range a caller asks for, through the one
// dequantizer of each format (BlockQuantization, KQuantization, MLXAffine), so a range is
// bit for bit what reading the whole tensor gives.
//
// A range starts on a block (a GGML block, an MLX group): `blockSize` columns.

import Compute

public enum QuantizedFormat: Sendable, Equatable {
    case ggml(GGMLType)
    /// MLX affine with its scales and biases' float type (the dequantized values are rounded
    /// to it, as mx.dequantize does).
    case mlx(MLXAffine, scales: DType)

    /// "q4_k", "mlx-q4/g64": what `--base-dtype` and the logs call it.
    public var name: String {
        switch self {
        case let .ggml(type): return type.name.lowercased()
        case let .mlx(affine, _): return "mlx-q\(affine.bits)/g\(affine.groupSize)"
        }
    }

    /// Columns per block or group: a column range starts at a multiple of it.
    public var blockSize: Int {
        switch self {
        case let .ggml(type): return type.blockSize
        case let .mlx(affine, _): return affine.groupSize
        }
    }
}

/// What is wrong with a quantized tensor's sizes, one line (the caller names the file and tensor).
public struct QuantizedMatrixError: Error, CustomStringConvertible, Sendable {
    public let problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

public final class QuantizedMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let format: QuantizedFormat
    /// Bytes of one stored row (of `data`).
    public let rowBytes: Int
    private let data: UnsafeRawPointer
    /// MLX only: rows x groups scales and biases, widened exactly to float32.
    private let scales: UnsafePointer<Float>?
    private let biases: UnsafePointer<Float>?
    /// What keeps `data`, `scales` and `biases` alive (a file mapping, loft's buffers).
    private let owners: [AnyObject]
    private let dequantizeBlock: GGMLCodec.Dequantize?

    /// A GGML-quantized matrix whose rows are `bytes` (rows x rowBytes(columns), row-major),
    /// kept alive by `owner`. Throws when the sizes disagree.
    public init(ggml type: GGMLType, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer, owner: AnyObject?) throws {
        guard let dequantize = GGMLCodec.dequantizer(type) else { throw QuantizedMatrixError("\(type) is not a block-quantized type") }
        guard rows >= 0, columns > 0 else { throw QuantizedMatrixError("shape [\(rows), \(columns)] is not a matrix") }
        guard let rowBytes = type.rowBytes(columns) else {
            throw QuantizedMatrixError("rows of \(columns) are not whole \(type) blocks of \(type.blockSize)")
        }
        let (total, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !overflow, total == bytes.count else {
            throw QuantizedMatrixError("\(bytes.count) bytes, \(rows) rows of \(columns) \(type) values take \(overflow ? "more" : String(total))")
        }
        self.rows = rows
        self.columns = columns
        format = .ggml(type)
        self.rowBytes = rowBytes
        data = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!
        scales = nil
        biases = nil
        owners = owner.map { [$0] } ?? []
        dequantizeBlock = dequantize
    }

    /// `values` (rows x columns floats) quantized to `type` by loft's (ggml's reference)
    /// quantizer into a buffer of its own.
    public convenience init(quantizing values: UnsafePointer<Float>, rows: Int, columns: Int, as type: GGMLType) throws {
        guard type.isQuantized, type.isWritable, GGMLCodec.quantizer(type) != nil else { throw QuantizedMatrixError("loft cannot quantize to \(type)") }
        guard let rowBytes = type.rowBytes(columns), columns > 0 else {
            throw QuantizedMatrixError("rows of \(columns) are not whole \(type) blocks of \(type.blockSize)")
        }
        let buffer = ByteBuffer(count: rows * rowBytes)
        GGMLCodec.encode(UnsafeBufferPointer(start: values, count: rows * columns), as: type, into: buffer.bytes)
        try self.init(ggml: type, rows: rows, columns: columns, bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer)
    }

    /// An MLX affine-quantized matrix: `packed` the rows' uint32 words (kept alive by
    /// `owner`), `scales` and `biases` rows x groups floats (widened from `scaleType`).
    public init(mlx affine: MLXAffine, scaleType: DType, rows: Int, columns: Int, packed: UnsafeRawBufferPointer, owner: AnyObject?,
                scales: ByteBuffer, biases: ByteBuffer) throws {
        guard columns > 0, rows >= 0, columns % affine.groupSize == 0, let words = affine.packedWords(rowLength: columns) else {
            throw QuantizedMatrixError("rows of \(columns) are not whole groups of \(affine.groupSize) in whole uint32 words at \(affine.bits) bits")
        }
        let groups = columns / affine.groupSize
        guard rows * words * 4 == packed.count else {
            throw QuantizedMatrixError("\(packed.count) bytes of packed codes, \(rows) rows of \(columns) \(affine.bits)-bit values take \(rows * words * 4)")
        }
        guard scales.count == rows * groups * 4, biases.count == rows * groups * 4 else {
            throw QuantizedMatrixError("\(scales.count / 4) scales and \(biases.count / 4) biases for \(rows) rows of \(groups) groups")
        }
        self.rows = rows
        self.columns = columns
        format = .mlx(affine, scales: scaleType)
        rowBytes = words * 4
        data = packed.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!
        self.scales = UnsafePointer(scales.bytes.bindMemory(to: Float.self).baseAddress!)
        self.biases = UnsafePointer(biases.bytes.bindMemory(to: Float.self).baseAddress!)
        owners = (owner.map { [$0] } ?? []) + [scales, biases]
        dequantizeBlock = nil
    }

    /// Bytes held for the matrix (codes, and for MLX the float32 scales and biases).
    public var byteCount: Int {
        switch format {
        case .ggml: return rows * rowBytes
        case let .mlx(affine, _): return rows * rowBytes + 2 * 4 * rows * (columns / affine.groupSize)
        }
    }

    /// out[0..<columnRange.count] = row `row`'s values in `columnRange` (which starts on a
    /// block and ends on one, or at the row's end).
    @inline(__always)
    public func dequantize(row: Int, columns columnRange: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let block = format.blockSize
        let first = columnRange.lowerBound / block, last = (columnRange.upperBound + block - 1) / block
        let rowStart = data + row * rowBytes
        switch format {
        case let .ggml(type):
            let dequantize = dequantizeBlock!
            for b in first..<last { dequantize(rowStart + b * type.typeSize, out + (b - first) * block) }
        case let .mlx(affine, scaleType):
            let groups = columns / block
            let word = columnRange.lowerBound * affine.bits / 32
            affine.dequantizeRow(packed: UnsafeRawBufferPointer(start: rowStart + 4 * word, count: rowBytes - 4 * word),
                                 scales: UnsafeBufferPointer(start: scales! + row * groups + first, count: last - first),
                                 biases: UnsafeBufferPointer(start: biases! + row * groups + first, count: last - first),
                                 into: UnsafeMutableBufferPointer(start: out, count: columnRange.count), type: scaleType)
        }
    }

    /// Whether a column range may start at every multiple of `stride` (a tile width):
    /// blocks divide it, and for MLX each such start is on a uint32 word.
    public func supportsRanges(every stride: Int) -> Bool {
        let block = format.blockSize
        guard stride % block == 0 else { return false }
        if case let .mlx(affine, _) = format { return (stride * affine.bits) % 32 == 0 }
        return true
    }
}
