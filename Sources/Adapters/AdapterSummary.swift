// What `loft inspect ADAPTER_DIR` reports: for every adapted module its kind, rank, alpha,
// scale, the delta's shape and the size of the change it makes, ||scale · B A||_F. The norm
// comes from the r x r Gram matrices, ||B A||²_F = Σ_ij (BᵀB)_ij (A Aᵀ)_ij, so no
// out x in product is formed; adapters of any size inspect in the time it takes to read them.

public struct AdapterModuleSummary: Sendable {
    public let module: String
    /// "lora", "dora" or "embedding".
    public let kind: String
    public let rank: Int
    public let alpha: Double?
    public let scale: Double
    /// The delta's shape in PEFT's orientation: out x in.
    public let rows: Int
    public let columns: Int
    /// ||scale · B A||_F (for DoRA: of the low-rank direction before the magnitude).
    public let deltaNorm: Double
    public let hasBias: Bool
}

public struct AdapterSummary: Sendable {
    public let path: String
    public let format: AdapterFormat
    public let weightsPath: String
    public let modules: [AdapterModuleSummary]
    /// modules_to_save: base tensors the adapter replaces whole.
    public let replaced: [String]

    public init(_ adapter: Adapter) {
        path = adapter.path
        format = adapter.format
        weightsPath = adapter.weightsPath
        modules = adapter.updates.map { update in
            AdapterModuleSummary(
                module: update.module, kind: update.isEmbedding ? "embedding" : update.magnitude != nil ? "dora" : "lora",
                rank: update.rank, alpha: update.alpha, scale: update.scale, rows: update.bRows, columns: update.aColumns,
                deltaNorm: abs(update.scale) * Self.productNorm(a: update.a, b: update.b, rank: update.rank, rows: update.bRows, columns: update.aColumns),
                hasBias: update.bias != nil)
        }
        replaced = adapter.replacements.map(\.target)
    }

    /// ||B A||_F for A (r x columns) and B (rows x r), row-major.
    static func productNorm(a: [Double], b: [Double], rank r: Int, rows: Int, columns: Int) -> Double {
        var bGram = [Double](repeating: 0, count: r * r)
        var aGram = [Double](repeating: 0, count: r * r)
        for row in 0..<rows {
            for i in 0..<r {
                let bi = b[row * r + i]
                for j in 0..<r { bGram[i * r + j] += bi * b[row * r + j] }
            }
        }
        for i in 0..<r {
            for j in i..<r {
                var sum = 0.0
                for column in 0..<columns { sum += a[i * columns + column] * a[j * columns + column] }
                aGram[i * r + j] = sum
                aGram[j * r + i] = sum
            }
        }
        let squared = zip(bGram, aGram).reduce(0) { $0 + $1.0 * $1.1 }
        return squared.squareRoot()
    }
}
