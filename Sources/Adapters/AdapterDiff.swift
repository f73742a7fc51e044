// `loft diff A_DIR B_DIR` on two adapters: module by module, how far apart the changes they
// make are, ||Δa - Δb||_F with Δ = scale · B A, whatever their ranks, scales or layouts (a
// PEFT adapter against its MLX-LM conversion compares equal). As for inspect, no out x in
// product is formed: ||Δa - Δb||² = ||Δa||² + ||Δb||² - 2 sa sb <Ba Aa, Bb Ab>, and
// <Ba Aa, Bb Ab> = Σ_ij (Baᵀ Bb)_ij (Ab Aaᵀ)_ji, from ra x rb products. In double precision
// this resolves differences down to about 1e-8 of the deltas' size. DoRA magnitudes are
// compared element by element.

public struct AdapterModuleDifference: Sendable {
    public let module: String
    public let rankA: Int
    public let rankB: Int
    public let normA: Double
    public let normB: Double
    /// ||Δa - Δb||_F.
    public let difference: Double
    /// max |ma - mb| of DoRA magnitudes, when both have them.
    public let magnitudeDifference: Double?
    public let agrees: Bool

    /// difference / ||Δb|| (B is the reference), 0 when both are zero.
    public var relative: Double { normB > 0 ? difference / normB : (difference > 0 ? .infinity : 0) }
}

public struct AdapterDiffReport: Sendable {
    public let a: String
    public let b: String
    public let atol: Double
    public let rtol: Double
    public let modules: [AdapterModuleDifference]
    /// Modules only B adapts, only A adapts, and those whose deltas have different shapes.
    public let missing: [String]
    public let extra: [String]
    public let mismatched: [String]

    public var agrees: Bool { missing.isEmpty && extra.isEmpty && mismatched.isEmpty && modules.allSatisfy(\.agrees) }
}

public enum AdapterDiff {
    /// A module agrees when ||Δa - Δb|| <= atol + rtol · ||Δb|| (numpy's rule on the norms),
    /// and its DoRA magnitudes (if any) agree element by element under the same rule.
    public static func compare(_ a: String, _ b: String, atol: Double, rtol: Double) throws -> AdapterDiffReport {
        let left = try Adapter(directory: a), right = try Adapter(directory: b)
        let byModule = Dictionary(right.updates.map { ($0.module, $0) }, uniquingKeysWith: { first, _ in first })
        let leftModules = Set(left.updates.map(\.module))
        var modules: [AdapterModuleDifference] = []
        var mismatched: [String] = []
        for x in left.updates {
            guard let y = byModule[x.module] else { continue }
            guard x.bRows == y.bRows, x.aColumns == y.aColumns, (x.magnitude == nil) == (y.magnitude == nil) else {
                mismatched.append(x.module)
                continue
            }
            let (xa, xb, ya, yb) = (x.a, x.b, y.a, y.b)
            let normA = abs(x.scale) * AdapterSummary.productNorm(a: xa, b: xb, rank: x.rank, rows: x.bRows, columns: x.aColumns)
            let normB = abs(y.scale) * AdapterSummary.productNorm(a: ya, b: yb, rank: y.rank, rows: y.bRows, columns: y.aColumns)
            let inner = x.scale * y.scale * innerProduct(xa, xb, x.rank, ya, yb, y.rank, rows: x.bRows, columns: x.aColumns)
            // The expansion cancels to rounding (about 1e-10 of the norms), not zero, for
            // identical deltas; the same factors and scale are exactly the same change.
            let identical = x.scale == y.scale && x.rank == y.rank && xa == ya && xb == yb
            let difference = identical ? 0 : max(0, normA * normA + normB * normB - 2 * inner).squareRoot()
            var magnitude: Double?
            var magnitudesAgree = true
            if let mx = x.magnitude, let my = y.magnitude {
                magnitude = zip(mx, my).map { abs($0 - $1) }.max() ?? 0
                magnitudesAgree = zip(mx, my).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
            }
            modules.append(AdapterModuleDifference(
                module: x.module, rankA: x.rank, rankB: y.rank, normA: normA, normB: normB, difference: difference,
                magnitudeDifference: magnitude, agrees: difference <= atol + rtol * normB && magnitudesAgree))
        }
        return AdapterDiffReport(
            a: a, b: b, atol: atol, rtol: rtol, modules: modules,
            missing: right.updates.map(\.module).filter { !leftModules.contains($0) },
            extra: left.updates.map(\.module).filter { byModule[$0] == nil }, mismatched: mismatched)
    }

    /// <B1 A1, B2 A2> for A (r x columns), B (rows x r), row-major.
    static func innerProduct(_ a1: [Double], _ b1: [Double], _ r1: Int, _ a2: [Double], _ b2: [Double], _ r2: Int,
                             rows: Int, columns: Int) -> Double {
        var bCross = [Double](repeating: 0, count: r1 * r2)   // B1ᵀ B2, r1 x r2
        for row in 0..<rows {
            for i in 0..<r1 {
                let v = b1[row * r1 + i]
                for j in 0..<r2 { bCross[i * r2 + j] += v * b2[row * r2 + j] }
            }
        }
        var total = 0.0
        for i in 0..<r1 {
            for j in 0..<r2 {
                var aCross = 0.0   // (A2 A1ᵀ)_ji
                for column in 0..<columns { aCross += a2[j * columns + column] * a1[i * columns + column] }
                total += bCross[i * r2 + j] * aCross
            }
        }
        return total
    }
}
