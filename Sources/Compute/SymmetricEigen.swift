// Eigendecomposition of a small symmetric matrix in Double, by cyclic Jacobi rotations.
//
// LoFT rebalances its factor pair through the eigenvalues of an r x r matrix once per step;
// r is at most a few hundred, where Jacobi's O(r³) per sweep (about 6-10 sweeps to double
// precision) is small next to the step's m x n work, and it is accurate for the small
// eigenvalues that matter there (relative to the largest, not worse than a QR-based solver).

public struct SymmetricEigenDecomposition: Sendable {
    public let order: Int
    /// Eigenvalues, ascending.
    public let values: [Double]
    /// Eigenvectors in the columns of a row-major `order x order` array, in the order of `values`.
    public let vectors: [Double]

    /// Decomposes the symmetric `order x order` row-major `symmetric` (both triangles read;
    /// the mean of the two is used). Returns nil when an element is not finite.
    public init?(_ symmetric: [Double], order: Int) {
        precondition(symmetric.count == order * order, "SymmetricEigen: \(symmetric.count) elements for order \(order)")
        guard symmetric.allSatisfy(\.isFinite) else { return nil }
        let r = order
        var a = symmetric
        for i in 0..<r { for j in (i + 1)..<max(i + 1, r) {
            let mean = 0.5 * (a[i * r + j] + a[j * r + i])
            a[i * r + j] = mean
            a[j * r + i] = mean
        } }
        var v = [Double](repeating: 0, count: r * r)
        for i in 0..<r { v[i * r + i] = 1 }

        for _ in 0..<64 {
            var off = 0.0, diagonal = 0.0
            for i in 0..<r {
                diagonal += a[i * r + i] * a[i * r + i]
                for j in (i + 1)..<max(i + 1, r) { off += a[i * r + j] * a[i * r + j] }
            }
            if off <= 1e-30 * diagonal || off == 0 { break }
            for p in 0..<r {
                for q in (p + 1)..<max(p + 1, r) {
                    let apq = a[p * r + q]
                    if apq == 0 { continue }
                    let app = a[p * r + p], aqq = a[q * r + q]
                    // The rotation that zeroes a[p][q] (Golub & Van Loan, the symmetric Schur step).
                    let theta = (aqq - app) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<r {
                        let akp = a[k * r + p], akq = a[k * r + q]
                        a[k * r + p] = c * akp - s * akq
                        a[k * r + q] = s * akp + c * akq
                    }
                    for k in 0..<r {
                        let apk = a[p * r + k], aqk = a[q * r + k]
                        a[p * r + k] = c * apk - s * aqk
                        a[q * r + k] = s * apk + c * aqk
                    }
                    a[p * r + q] = 0
                    a[q * r + p] = 0
                    for k in 0..<r {
                        let vkp = v[k * r + p], vkq = v[k * r + q]
                        v[k * r + p] = c * vkp - s * vkq
                        v[k * r + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order_ = (0..<r).sorted { a[$0 * r + $0] < a[$1 * r + $1] }
        values = order_.map { a[$0 * r + $0] }
        var sorted = [Double](repeating: 0, count: r * r)
        for (column, source) in order_.enumerated() {
            for k in 0..<r { sorted[k * r + column] = v[k * r + source] }
        }
        vectors = sorted
        self.order = r
    }
}
