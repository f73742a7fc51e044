// A frozen weight matrix held in 16 bits (bfloat16 or float16), half the memory of float32.
//
// Nothing computes in 16 bits: the products (CompactProducts.swift) widen one tile of the
// matrix at a time into a float32 scratch block and multiply it with sgemm, so the whole
// matrix is never widened. bfloat16 and float16 widen exactly (every value is a float32), so
// a model held this way computes what the float32 model with the same (16-bit) weights does,
// up to the summation order of the tiles. `computesInBF16` opts a bfloat16 matrix into the
// bfloat16 products instead (CompactBF16Products.swift, `--base-compute bf16`).
// A matrix may instead be block-quantized (GGUF's Q8_0, Q4_K, ...; MLX affine): `quantized`
// holds the file's blocks and a tile is dequantized (CompactQuantized.swift).

import Compute
import TensorIO

public enum CompactDType: String, Sendable {
    case bfloat16 = "bf16"
    case float16 = "f16"
    /// Block-quantized: the values are `quantized`'s, `bits` is empty.
    case quantized
}

public final class CompactMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let dtype: CompactDType
    /// rows x columns 16-bit values, row-major.
    public let bits: UnsafeMutablePointer<UInt16>
    /// Products round the other operand to bfloat16 and multiply in bfloat16 (float32 sums);
    /// bfloat16 matrices only.
    public var computesInBF16 = false {
        didSet { precondition(!computesInBF16 || dtype == .bfloat16, "CompactMatrix: bf16 compute of a \(dtype.rawValue) matrix") }
    }
    /// The blocks of a quantized matrix (dtype .quantized).
    public let quantized: QuantizedMatrix?

    public init(rows: Int, columns: Int, dtype: CompactDType) {
        precondition(rows >= 0 && columns >= 0 && dtype != .quantized)
        self.rows = rows
        self.columns = columns
        self.dtype = dtype
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(rows * columns, 1) * 2, alignment: 64)
        bits = raw.bindMemory(to: UInt16.self, capacity: max(rows * columns, 1))
        bits.initialize(repeating: 0, count: max(rows * columns, 1))
        quantized = nil
    }

    /// A block-quantized matrix, dequantized tile by tile (its blocks must divide the tile
    /// width: `QuantizedMatrix.supportsRanges(every: CompactMatrix.tileColumns)`).
    public init(quantized matrix: QuantizedMatrix) {
        precondition(matrix.supportsRanges(every: Self.tileColumns), "CompactMatrix: \(matrix.format.name) blocks do not divide the tile width")
        rows = matrix.rows
        columns = matrix.columns
        dtype = .quantized
        bits = UnsafeMutableRawPointer.allocate(byteCount: 2, alignment: 64).bindMemory(to: UInt16.self, capacity: 1)
        bits.initialize(to: 0)
        quantized = matrix
    }

    /// `values` (rows x columns floats) rounded to nearest, ties to even.
    public convenience init(rows: Int, columns: Int, dtype: CompactDType, rounding values: UnsafePointer<Float>) {
        self.init(rows: rows, columns: columns, dtype: dtype)
        let out = bits
        Parallel.forEachRange(count: rows * columns) { range in
            switch dtype {
            case .bfloat16: BF16Products.round(values + range.lowerBound, count: range.count, into: out + range.lowerBound)
            case .float16: for i in range { out[i] = float16Bits(values[i]) }
            case .quantized: preconditionFailure("CompactMatrix: rounding to a quantized type")
            }
        }
    }

    deinit { UnsafeMutableRawPointer(bits).deallocate() }

    public var count: Int { rows * columns }

    /// How the values are held: "bf16", "f16", or the quantized format ("q4_k", "mlx-q4/g64").
    public var storageName: String { quantized?.format.name ?? dtype.rawValue }

    /// Bytes the matrix holds.
    public var byteCount: Int { quantized?.byteCount ?? 2 * count }

    /// tile[i][j] = self[rowRange.lowerBound + i][columnRange.lowerBound + j], tile row-major
    /// with `columnRange.count` columns.
    /// Both cores share a large tile: sgemm runs on both, so a tile widened on one would leave
    /// the other idle in between.
    func widen(rows rowRange: Range<Int>, columns columnRange: Range<Int>, into tile: UnsafeMutablePointer<Float>) {
        if let quantized { return quantized.widen(rows: rowRange, columns: columnRange, into: tile) }
        let width = columnRange.count
        Parallel.forEachRange(count: rowRange.count, minimumChunk: max(1, (1 << 16) / max(width, 1))) { range in
            for i in range {
                self.widen(self.bits + (rowRange.lowerBound + i) * self.columns + columnRange.lowerBound, count: width, into: tile + i * width)
            }
        }
    }

    /// out[0..<count] = the floats of `source`.
    @inline(__always)
    func widen(_ source: UnsafePointer<UInt16>, count: Int, into out: UnsafeMutablePointer<Float>) {
        // The vector kernels (AVX2, F16C) do what they can; the loops below the rest, or all
        // of it on a CPU without them.
        switch dtype {
        case .bfloat16:
            // bfloat16 is the upper half of a float32.
            let done = BF16Products.widenBFloat16Prefix(source, count: count, into: out)
            for j in done..<count { out[j] = Float(bitPattern: UInt32(source[j]) << 16) }
        case .float16:
            let done = BF16Products.widenFloat16Prefix(source, count: count, into: out)
            guard done < count else { return }
            float16Table.withUnsafeBufferPointer { table in
                for j in done..<count { out[j] = table[Int(source[j])] }
            }
        case .quantized:
            preconditionFailure("CompactMatrix: 16-bit widening of a quantized matrix")
        }
    }

    /// Row `row` as floats into `out` (columns floats): an embedding lookup.
    public func widenRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "CompactMatrix: row \(row) of \(rows)")
        if let quantized { return quantized.dequantize(row: row, columns: 0..<columns, into: out) }
        widen(bits + row * columns, count: columns, into: out)
    }

    /// The whole matrix as a float32 matrix (for a weight that becomes trainable).
    public func widened() -> FloatBuffer {
        let buffer = FloatBuffer(rows: rows, columns: columns)
        let out = buffer.pointer
        if let quantized {
            quantized.widen(rows: 0..<rows, columns: 0..<columns, into: out)
            return buffer
        }
        Parallel.forEachRange(count: rows) { range in
            for row in range { self.widen(self.bits + row * self.columns, count: self.columns, into: out + row * self.columns) }
        }
        return buffer
    }
}

/// float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN), as torch's
/// `.to(torch.bfloat16)` rounds.
@inline(__always)
func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// float32 -> IEEE binary16 bits, round to nearest even (overflow to infinity).
@inline(__always)
func float16Bits(_ value: Float) -> UInt16 { Float16(value).bitPattern }

/// Every float16 bit pattern's float32 value: widening by lookup.
let float16Table: [Float] = (0...0xFFFF).map { halfToFloat(UInt16($0)) }
