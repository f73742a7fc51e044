// The tile widening of a block-quantized frozen weight (CompactMatrix's `quantized` case):
// each row of the tile is dequantized from the file's blocks by TensorIO's dequantizer of
// that format (QuantizedMatrix.dequantize), so a tile holds exactly the values reading the
// whole tensor gives, and the products (CompactProducts.swift) are the float32 products of
// the dequantized matrix up to the summation order of the tiles.
//
// Only a frozen weight is held this way: one that becomes trainable is widened for good
// (Parameter.setTrainable), and trainable factors and optimizer state are float32.

import Compute
import TensorIO

extension QuantizedMatrix {
    /// tile[i][j] = self[rowRange.lowerBound + i][columnRange.lowerBound + j], row-major with
    /// `columnRange.count` columns; `columnRange` starts on a block. Rows are split over the
    /// cores as the 16-bit widening splits them.
    func widen(rows rowRange: Range<Int>, columns columnRange: Range<Int>, into tile: UnsafeMutablePointer<Float>) {
        let width = columnRange.count
        precondition(columnRange.lowerBound % format.blockSize == 0, "QuantizedMatrix: columns \(columnRange) do not start on a \(format.name) block")
        Parallel.forEachRange(count: rowRange.count, minimumChunk: max(1, (1 << 16) / max(width, 1))) { range in
            for i in range { self.dequantize(row: rowRange.lowerBound + i, columns: columnRange, into: tile + i * width) }
        }
    }
}

extension CompactMatrix {
    /// Whether `matrix` can be held quantized: its blocks divide the tile width (every GGML
    /// type; MLX groups of 32, 64, 128, ...).
    public static func canHold(_ matrix: QuantizedMatrix) -> Bool { matrix.supportsRanges(every: tileColumns) }
}

extension CompactMatrix {
    /// `values` (rows x columns) quantized to `type`, or to llama-quantize's fallback when the
    /// rows are not whole `type` blocks (Q4_K -> Q5_0, ...); nil when no quantized type fits.
    public static func quantizing(_ values: UnsafePointer<Float>, rows: Int, columns: Int, as type: GGMLType) -> CompactMatrix? {
        let chosen = GGUFRecipe.fallback(type, columns: columns)
        guard chosen.isQuantized, let matrix = try? QuantizedMatrix(quantizing: values, rows: rows, columns: columns, as: chosen) else { return nil }
        return CompactMatrix(quantized: matrix)
    }
}
