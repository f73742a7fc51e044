// What the adapted projections of a model keep between forward and backward: x Aᵀ
// (rows x rank) of each adapted projection, and one rows x rank scratch for backward.
// Adapters can be attached or replaced between steps, so `prepare` runs before every forward.

final class AdapterActivations {
    /// By projection index in model order; nil when that projection has no adapter.
    private(set) var hidden: [FloatBuffer?] = []
    private(set) var scratch = FloatBuffer(count: 0)

    func prepare(_ projections: [Projection], rows: Int) {
        if hidden.count != projections.count { hidden = Array(repeating: nil, count: projections.count) }
        var maxRank = 0
        for (index, projection) in projections.enumerated() {
            guard let adapter = projection.adapter else { hidden[index] = nil; continue }
            maxRank = max(maxRank, adapter.rank)
            if hidden[index]?.count != rows * adapter.rank { hidden[index] = FloatBuffer(count: rows * adapter.rank) }
        }
        if scratch.count < rows * maxRank { scratch = FloatBuffer(count: rows * maxRank) }
    }

    /// x Aᵀ of projection `index`, nil when it is not adapted.
    subscript(index: Int) -> UnsafeMutablePointer<Float>? { hidden[index]?.pointer }
}
