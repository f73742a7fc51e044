// Dense projections in both weight layouts, and the low-rank branch that adapters add.
//
// Linear (PyTorch nn.Linear): weight `out x in`, y = x Wᵀ + b.
// Conv1D (GPT-2):             weight `in x out`, y = x W + b.
// Low-rank branch (PEFT LoRA): y += scale · (x Aᵀ) Bᵀ with A `r x in`, B `out x r`, in both
// layouts (with fan_in_fan_out the delta (B A)ᵀ is what would be added to the stored weight).
//
// Backward conventions shared by every layer here: the input gradient is overwritten,
// parameter gradients accumulate (+=), so micro-batches add up until the caller zeroes them.

import Compute
import TensorIO

public enum WeightLayout: Sendable, Equatable {
    /// nn.Linear: `out x in`.
    case outIn
    /// GPT-2 Conv1D: `in x out`.
    case inOut
}

public enum Linear {
    /// y[rows, out] = x[rows, in] · W(ᵀ) + b.
    public static func forward(
        output y: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, inFeatures: Int, outFeatures: Int, layout: WeightLayout
    ) {
        if let bias {
            for row in 0..<rows { (y + row * outFeatures).update(from: bias, count: outFeatures) }
        }
        let beta: Float = bias == nil ? 0 : 1
        switch layout {
        case .outIn:
            gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                 x, lda: inFeatures, weight, ldb: inFeatures, beta: beta, y, ldc: outFeatures)
        case .inOut:
            gemm(transposeA: false, transposeB: false, m: rows, n: outFeatures, k: inFeatures,
                 x, lda: inFeatures, weight, ldb: outFeatures, beta: beta, y, ldc: outFeatures)
        }
    }

    /// dx = dy · W(ᵀ) (overwritten); dW += dyᵀ x (Linear) or xᵀ dy (Conv1D); db += Σ_rows dy.
    /// Pass nil for what is not wanted: a frozen weight costs no product and no buffer.
    public static func backward(
        inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dW: UnsafeMutablePointer<Float>?,
        biasGradient db: UnsafeMutablePointer<Float>?,
        outputGradient dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inFeatures: Int, outFeatures: Int, layout: WeightLayout
    ) {
        switch layout {
        case .outIn:
            if let dx {
                gemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                     dy, lda: outFeatures, weight, ldb: inFeatures, beta: 0, dx, ldc: inFeatures)
            }
            if let dW {
                gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                     dy, lda: outFeatures, x, ldb: inFeatures, beta: 1, dW, ldc: inFeatures)
            }
        case .inOut:
            if let dx {
                gemm(transposeA: false, transposeB: true, m: rows, n: inFeatures, k: outFeatures,
                     dy, lda: outFeatures, weight, ldb: outFeatures, beta: 0, dx, ldc: inFeatures)
            }
            if let dW {
                gemm(transposeA: true, transposeB: false, m: inFeatures, n: outFeatures, k: rows,
                     x, lda: inFeatures, dy, ldb: outFeatures, beta: 1, dW, ldc: outFeatures)
            }
        }
        if let db { sumRows(into: db, dy, rows: rows, columns: outFeatures) }
    }

    /// db[j] += Σ_i dy[i][j], split over columns so the two cores never write the same entry.
    static func sumRows(into db: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, columns: Int) {
        Parallel.forEachRange(count: columns, minimumChunk: max(64, (1 << 16) / max(rows, 1))) { range in
            for row in 0..<rows {
                let source = dy + row * columns
                for j in range { db[j] += source[j] }
            }
        }
    }
}

public enum LowRank {
    /// hidden[rows, r] = x Aᵀ (kept for backward); y += scale · hidden Bᵀ.
    public static func forward(
        output y: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, scale: Float,
        rows: Int, inFeatures: Int, outFeatures: Int, rank: Int
    ) {
        gemm(transposeA: false, transposeB: true, m: rows, n: rank, k: inFeatures,
             x, lda: inFeatures, a, ldb: inFeatures, beta: 0, hidden, ldc: rank)
        gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: rank, alpha: scale,
             hidden, lda: rank, b, ldb: rank, beta: 1, y, ldc: outFeatures)
    }

    /// The factor gradients without the `out x in` weight gradient G (docs/loft.md, "Notation"):
    /// dh = scale · dy B  [rows, r];  gA += dhᵀ x  (= scale (dY B)ᵀ X);  gB += scale · dyᵀ hidden;
    /// dx += dh A (accumulated: the frozen weight's Linear.backward wrote dx first).
    /// `hiddenGradient` is scratch of rows·r floats.
    public static func backward(
        inputGradient dx: UnsafeMutablePointer<Float>?, gradientA gA: UnsafeMutablePointer<Float>?,
        gradientB gB: UnsafeMutablePointer<Float>?, hiddenGradient dh: UnsafeMutablePointer<Float>,
        outputGradient dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, hidden: UnsafePointer<Float>,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, scale: Float,
        rows: Int, inFeatures: Int, outFeatures: Int, rank: Int
    ) {
        if let gB {
            gemm(transposeA: true, transposeB: false, m: outFeatures, n: rank, k: rows, alpha: scale,
                 dy, lda: outFeatures, hidden, ldb: rank, beta: 1, gB, ldc: rank)
        }
        guard gA != nil || dx != nil else { return }
        gemm(transposeA: false, transposeB: false, m: rows, n: rank, k: outFeatures, alpha: scale,
             dy, lda: outFeatures, b, ldb: rank, beta: 0, dh, ldc: rank)
        if let gA {
            gemm(transposeA: true, transposeB: false, m: rank, n: inFeatures, k: rows,
                 dh, lda: rank, x, ldb: inFeatures, beta: 1, gA, ldc: inFeatures)
        }
        if let dx {
            gemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: rank,
                 dh, lda: rank, a, ldb: inFeatures, beta: 1, dx, ldc: inFeatures)
        }
    }
}

extension Linear {
    /// forward with the weight as a Parameter: float32, or held in 16 bits and multiplied
    /// tile by tile (CompactProducts.swift). What every projection and head calls.
    public static func forward(
        output y: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>,
        weight: Parameter, bias: UnsafePointer<Float>?,
        rows: Int, inFeatures: Int, outFeatures: Int, layout: WeightLayout
    ) {
        guard let compact = weight.compact else {
            return forward(output: y, input: x, weight: weight.value.pointer, bias: bias,
                           rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
        }
        if let bias {
            for row in 0..<rows { (y + row * outFeatures).update(from: bias, count: outFeatures) }
        }
        let beta: Float = bias == nil ? 0 : 1
        switch weight.compactLayout(layout) {
        case .outIn: compact.productTransposed(m: rows, x, lda: inFeatures, beta: beta, y, ldc: outFeatures)
        case .inOut: compact.product(m: rows, x, lda: inFeatures, beta: beta, y, ldc: outFeatures)
        }
    }

    /// backward with the weight as a Parameter. A weight held in 16 bits is frozen
    /// (setTrainable widens it), so it only ever gives the input gradient.
    public static func backward(
        inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dW: UnsafeMutablePointer<Float>?,
        biasGradient db: UnsafeMutablePointer<Float>?,
        outputGradient dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, weight: Parameter,
        rows: Int, inFeatures: Int, outFeatures: Int, layout: WeightLayout
    ) {
        guard let compact = weight.compact else {
            return backward(inputGradient: dx, weightGradient: dW, biasGradient: db, outputGradient: dy, input: x,
                            weight: weight.value.pointer, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
        }
        precondition(dW == nil, "\(weight.name): a weight held in 16 bits has no gradient")
        if let dx {
            switch weight.compactLayout(layout) {
            case .outIn: compact.product(m: rows, dy, lda: outFeatures, beta: 0, dx, ldc: inFeatures)
            case .inOut: compact.productTransposed(m: rows, dy, lda: outFeatures, beta: 0, dx, ldc: inFeatures)
            }
        }
        if let db { sumRows(into: db, dy, rows: rows, columns: outFeatures) }
    }
}

extension Parameter {
    /// The layout `compact` is multiplied in: the weight's, or the other one when the weight
    /// is held transposed (W = Sᵀ: x Wᵀ = x S).
    func compactLayout(_ layout: WeightLayout) -> WeightLayout {
        guard compactIsTransposed else { return layout }
        return layout == .outIn ? .inOut : .outIn
    }
}
