// Matrix products with a 16-bit matrix S (CompactMatrix, rows x columns), in float32 tile by
// tile: a block of S is widened into a float32 scratch tile and multiplied with sgemm; the
// scratch is the only float32 copy of S there is, and it holds one tile.
//
// Two products cover every use of a weight (Linear.swift's layouts):
//   C[m, rows]    = A[m, columns] · Sᵀ  (+ beta C)   productTransposed
//   C[m, columns] = A[m, rows]    · S   (+ beta C)   product
// nn.Linear (S = W, out x in): forward y = x Wᵀ is productTransposed, dx = dy W is product.
// GPT-2 Conv1D (S = W, in x out): forward y = x W is product, dx = dy Wᵀ productTransposed.
//
// Tiles are `tileRows x tileColumns` (512 x 2048, 4 MB of float32). The dimension that a
// product sums over is cut in blocks of 512 or 2048, as sgemm itself cuts it, so the output
// is read and written about as often as by one sgemm over the float32 matrix, and the other
// operand is packed once per tile of the summed dimension.
//
// A bfloat16 matrix with `computesInBF16` (`--base-compute bf16`) multiplies in bfloat16
// instead (CompactBF16Products.swift); the tiled float32 products stay its fallback.

import Compute

extension CompactMatrix {
    static let tileRows = 512
    static let tileColumns = 2048

    /// C[m, rows] = A[m, columns] · Sᵀ + beta · C.
    public func productTransposed(m: Int, _ a: UnsafePointer<Float>, lda: Int, beta: Float,
                                  _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        if computesInBF16 { return bf16Product(transposed: true, m: m, a, lda: lda, beta: beta, c, ldc: ldc) }
        widenedProductTransposed(m: m, a, lda: lda, beta: beta, c, ldc: ldc)
    }

    /// C[m, columns] = A[m, rows] · S + beta · C.
    public func product(m: Int, _ a: UnsafePointer<Float>, lda: Int, beta: Float,
                        _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        if computesInBF16 { return bf16Product(transposed: false, m: m, a, lda: lda, beta: beta, c, ldc: ldc) }
        widenedProduct(m: m, a, lda: lda, beta: beta, c, ldc: ldc)
    }

    /// productTransposed in float32, tile by tile.
    func widenedProductTransposed(m: Int, _ a: UnsafePointer<Float>, lda: Int, beta: Float,
                                  _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, rows > 0 else { return }
        withTile { tile in
            for r0 in stride(from: 0, to: rows, by: Self.tileRows) {
                let rowCount = min(Self.tileRows, rows - r0)
                if columns == 0 { gemm(transposeA: false, transposeB: true, m: m, n: rowCount, k: 0, a, lda: lda, tile, ldb: 1, beta: beta, c + r0, ldc: ldc) }
                for c0 in stride(from: 0, to: columns, by: Self.tileColumns) {
                    let columnCount = min(Self.tileColumns, columns - c0)
                    widen(rows: r0..<(r0 + rowCount), columns: c0..<(c0 + columnCount), into: tile)
                    gemm(transposeA: false, transposeB: true, m: m, n: rowCount, k: columnCount,
                         a + c0, lda: lda, tile, ldb: columnCount, beta: c0 == 0 ? beta : 1, c + r0, ldc: ldc)
                }
            }
        }
    }

    /// product in float32, tile by tile.
    func widenedProduct(m: Int, _ a: UnsafePointer<Float>, lda: Int, beta: Float,
                        _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, columns > 0 else { return }
        withTile { tile in
            for c0 in stride(from: 0, to: columns, by: Self.tileColumns) {
                let columnCount = min(Self.tileColumns, columns - c0)
                if rows == 0 { gemm(transposeA: false, transposeB: false, m: m, n: columnCount, k: 0, a, lda: lda, tile, ldb: 1, beta: beta, c + c0, ldc: ldc) }
                for r0 in stride(from: 0, to: rows, by: Self.tileRows) {
                    let rowCount = min(Self.tileRows, rows - r0)
                    widen(rows: r0..<(r0 + rowCount), columns: c0..<(c0 + columnCount), into: tile)
                    gemm(transposeA: false, transposeB: false, m: m, n: columnCount, k: rowCount,
                         a + r0, lda: lda, tile, ldb: columnCount, beta: r0 == 0 ? beta : 1, c + c0, ldc: ldc)
                }
            }
        }
    }

    /// A float32 scratch tile for the duration of `body` (malloc reuses the block of the
    /// previous call, so this costs no page faults in a training loop).
    private func withTile(_ body: (UnsafeMutablePointer<Float>) -> Void) {
        let capacity = min(Self.tileRows, max(rows, 1)) * min(Self.tileColumns, max(columns, 1))
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        defer { tile.deallocate() }
        body(tile)
    }
}
