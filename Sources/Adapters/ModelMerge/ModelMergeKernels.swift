// The arithmetic of one merged tensor for each whole-model method, written to reproduce
// mergekit's results: the same operations in the same order in the working type (float32,
// or float64 for float64 inputs), so the deterministic methods (linear, task_arithmetic,
// ties and breadcrumbs without rescale, passthrough) give mergekit's bits. The reductions
// that torch vectorises (norms and dot products of slerp and model_stock, DARE's L1 rescale)
// are summed here in float64, which can move the last bit of the result.
//
// Magnitude pruning and the random masks are TaskTensors' (TaskTensorMerge.swift), shared
// with `loft combine`; only the scaling around them differs between PEFT and mergekit.

import Compute

enum ModelMergeKernels {
    /// mergekit's linear: sum_i w_i x_i, divided by sum_i w_i when normalize.
    static func linear<T: BinaryFloatingPoint>(_ inputs: [[T]], weights: [Double], normalize: Bool) -> [T] {
        let count = inputs[0].count
        var out = [T](repeating: 0, count: count)
        for (x, w) in zip(inputs, weights) {
            let c = T(w)
            // torch's addcmul_ on the CPU fuses the multiply-add (one rounding).
            for j in 0..<count { out[j] = out[j].addingProduct(x[j], c) }
        }
        if normalize {
            var denominator: T = 0
            for w in weights { denominator = denominator + T(w) }
            for j in 0..<count { out[j] = out[j] / denominator }
        }
        return out
    }

    enum Sparsification { case magnitude, random, magnitudeOutliers }
    enum Consensus { case sum }

    struct TaskArithmetic {
        var sparsification: Sparsification?
        var consensus: Consensus?
        var normalize: Bool
        var rescale: Bool
        var lambda: Double
    }

    /// mergekit's generalized task arithmetic: deltas d_i = x_i - base, each sparsified and
    /// weighted; with consensus, only the d_i whose sign agrees with sign(sum_i d_i) are summed
    /// and the divisor is the sum of their weights; base + lambda * sum / divisor (the divisor
    /// only when normalize).
    static func taskArithmetic<T: BinaryFloatingPoint>(base: [T], inputs: [[T]], weights: [Double], densities: [Double],
                                                       gammas: [Double], seeds: [UInt64], method: TaskArithmetic) -> [T] {
        var deltas = inputs
        return taskArithmetic(base: base, consuming: &deltas, weights: weights, densities: densities, gammas: gammas, seeds: seeds, method: method)
    }

    /// The same, turning `inputs` into the weighted deltas in place (no second array per
    /// input when the caller hands its arrays over).
    static func taskArithmetic<T: BinaryFloatingPoint>(base: [T], consuming inputs: inout [[T]], weights: [Double], densities: [Double],
                                                       gammas: [Double], seeds: [UInt64], method: TaskArithmetic) -> [T] {
        let count = base.count
        guard !inputs.isEmpty else { return base }
        let w = weights.map { T($0) }
        // Each input's delta is independent of the others' (its own selection or mask), so the
        // inputs go to the cores together; the per-element operations are the same either way.
        inputs.withUnsafeMutableBufferPointer { slots in
            Parallel.forEachPiece(count: slots.count, pieceSize: 1) { pieces in
                for i in pieces {
                    var delta: [T] = []
                    swap(&delta, &slots[i])
                    delta.withUnsafeMutableBufferPointer { d in
                        base.withUnsafeBufferPointer { b in for j in 0..<count { d[j] = d[j] - b[j] } }
                    }
                    switch method.sparsification {
                    case nil: break
                    case .magnitude?: sparsifyByMagnitude(&delta, density: densities[i], rescale: method.rescale)
                    case .random?: sparsifyAtRandom(&delta, density: densities[i], seed: seeds[i], rescale: method.rescale)
                    case .magnitudeOutliers?: sparsifyOutliers(&delta, density: densities[i], gamma: gammas[i], rescale: method.rescale)
                    }
                    let weight = w[i]
                    delta.withUnsafeMutableBufferPointer { d in for j in 0..<count { d[j] = d[j] * weight } }
                    swap(&delta, &slots[i])
                }
            }
        }
        let deltas = inputs
        inputs = []

        // One pass writes the result: no per-element divisor or sum arrays beside the deltas.
        let lambda = T(method.lambda)
        var out = [T](repeating: 0, count: count)
        var total: T = 0
        for weight in w { total = total + weight }
        if abs(total) < T(1e-8) { total = 1 }
        out.withUnsafeMutableBufferPointer { o in
            base.withUnsafeBufferPointer { b in withBuffers(deltas) { rows in
                Parallel.forEachRange(count: count) { range in
                    func finish(_ j: Int, _ sum: T, _ divisor: T) {
                        var m = sum
                        if method.normalize { m = m / divisor }
                        if method.lambda != 1 { m = m * lambda }
                        o[j] = b[j] + m
                    }
                    if method.consensus != nil {
                        for j in range {
                            var vote: T = 0
                            for d in rows { vote = vote + d[j] }
                            let majority: T = vote >= 0 ? 1 : -1
                            var sum: T = 0, divisor: T = 0
                            for (d, weight) in zip(rows, w) where sign(d[j]) == majority {
                                sum = sum + d[j]
                                divisor = divisor + weight
                            }
                            finish(j, sum, divisor == 0 ? 1 : divisor)
                        }
                    } else {
                        for j in range {
                            var sum: T = 0
                            for d in rows { sum = sum + d[j] }
                            finish(j, sum, total)
                        }
                    }
                }
            } }
        }
        return out
    }

    /// `body` with the buffers of all of `arrays` at once.
    static func withBuffers<T, R>(_ arrays: [[T]], _ body: ([UnsafeBufferPointer<T>]) -> R) -> R {
        func nest(_ i: Int, _ buffers: [UnsafeBufferPointer<T>]) -> R {
            i == arrays.count ? body(buffers) : arrays[i].withUnsafeBufferPointer { nest(i + 1, buffers + [$0]) }
        }
        return nest(0, [])
    }

    private static func sign<T: BinaryFloatingPoint>(_ x: T) -> T { x > 0 ? 1 : x < 0 ? -1 : 0 }

    /// TIES' pruning: the max(1, int(density * n)) largest magnitudes.
    static func sparsifyByMagnitude<T: BinaryFloatingPoint>(_ x: [T], density: Double, rescale: Bool) -> [T] {
        var y = x
        sparsifyByMagnitude(&y, density: density, rescale: rescale)
        return y
    }

    static func sparsifyByMagnitude<T: BinaryFloatingPoint>(_ x: inout [T], density: Double, rescale: Bool) {
        if density >= 1 { return }
        if density <= 0 || x.isEmpty { x = [T](repeating: 0, count: x.count); return }
        let keep = max(1, Int(density * Double(x.count)))
        rescaling(&x, rescale) { TaskTensors.keepByMagnitude(&$0, skipLargest: 0, keep: keep) }
    }

    /// Breadcrumbs: the int(gamma * n) largest magnitudes (outliers) and the smallest dropped,
    /// int(density * n) kept (fewer outliers dropped when both cannot hold).
    static func sparsifyOutliers<T: BinaryFloatingPoint>(_ x: inout [T], density: Double, gamma: Double, rescale: Bool) {
        if density >= 1 { return }
        let n = x.count
        let target = Int(density * Double(n)), top = Int(gamma * Double(n))
        let bottom = max(0, n - target - top)
        rescaling(&x, rescale) { TaskTensors.keepByMagnitude(&$0, skipLargest: n - bottom - target, keep: target) }
    }

    /// DARE: each element kept with probability density; with rescale, the kept elements are
    /// scaled so the L1 norm is that of the whole delta (mergekit's rescale, not PEFT's
    /// 1 / density).
    static func sparsifyAtRandom<T: BinaryFloatingPoint>(_ x: [T], density: Double, seed: UInt64, rescale: Bool) -> [T] {
        var y = x
        sparsifyAtRandom(&y, density: density, seed: seed, rescale: rescale)
        return y
    }

    static func sparsifyAtRandom<T: BinaryFloatingPoint>(_ x: inout [T], density: Double, seed: UInt64, rescale: Bool) {
        if density >= 1 { return }
        rescaling(&x, rescale) { TaskTensors.keepAtRandom(&$0, density: density, seed: seed) }
    }

    /// `mask` applied in place, then mergekit's rescaled_masked_tensor with the L1 norm: the
    /// kept elements scaled by ||before||_1 / ||after||_1.
    private static func rescaling<T: BinaryFloatingPoint>(_ x: inout [T], _ rescale: Bool, _ mask: (inout [T]) -> Void) {
        guard rescale else { mask(&x); return }
        var before = 0.0, after = 0.0
        for v in x { before += abs(Double(v)) }
        mask(&x)
        for v in x { after += abs(Double(v)) }
        let b = T(before), a = T(after)
        if b < T(1e-7) || a < T(1e-7) { return }
        let factor = b / a
        x.withUnsafeMutableBufferPointer { y in for j in y.indices { y[j] = y[j] * factor } }
    }

    /// mergekit's slerp of the whole tensor: the angle between the normalised tensors; nearly
    /// parallel ones (|cos| > 0.9995) are interpolated linearly.
    static func slerp<T: BinaryFloatingPoint>(t: Double, _ a: [T], _ b: [T]) -> [T] {
        let tt = T(t)
        // The two norms on the two cores; each is summed in order, as before.
        var norms = [0.0, 0.0]
        norms.withUnsafeMutableBufferPointer { n in
            Parallel.forEachPiece(count: 2, pieceSize: 1) { which in
                for k in which {
                    var sum = 0.0
                    for v in k == 0 ? a : b { sum += Double(v) * Double(v) }
                    n[k] = sum
                }
            }
        }
        var normA = norms[0].squareRoot(), normB = norms[1].squareRoot()
        if !(normA > 1e-8) { normA = 1 }
        if !(normB > 1e-8) { normB = 1 }
        var dot = 0.0
        for j in a.indices { dot += (Double(a[j]) / normA) * (Double(b[j]) / normB) }
        dot = min(1, max(-1, dot))
        let ca: T, cb: T
        if abs(dot) > 0.9995 {
            ca = 1 - tt; cb = tt
        } else {
            let theta = acosDouble(dot)
            let s = sinDouble(theta)
            ca = T(sinDouble((1 - Double(tt)) * theta) / s)
            cb = T(sinDouble(Double(tt) * theta) / s)
        }
        var out = [T](repeating: 0, count: a.count)
        out.withUnsafeMutableBufferPointer { o in
            a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in
                Parallel.forEachRange(count: o.count) { range in for j in range { o[j] = ca * x[j] + cb * y[j] } }
            } }
        }
        return out
    }

    /// Model Stock: t = k cos / (1 + (k - 1) cos) from the mean cosine between the fine-tuned
    /// models' offsets from the base; t * mean(models) + (1 - t) * base. filter_wise: per row
    /// (the last axis), else over the whole tensor.
    static func modelStock<T: BinaryFloatingPoint>(base: [T], inputs: [[T]], shape: [Int], filterWise: Bool) -> [T] {
        let count = base.count
        let columns = filterWise && shape.count >= 2 ? shape.last! : count
        let rows = columns == 0 ? 0 : count / columns
        let k = inputs.count
        var average = [T](repeating: 0, count: count)
        let kk = T(k)
        average.withUnsafeMutableBufferPointer { m in withBuffers(inputs) { xs in
            Parallel.forEachRange(count: count) { range in
                for x in xs { for j in range { m[j] = m[j] + x[j] } }
                for j in range { m[j] = m[j] / kk }
            }
        } }
        var out = [T](repeating: 0, count: count)
        // Rows are independent (each its own cosine and t): whole rows to each core.
        out.withUnsafeMutableBufferPointer { o in base.withUnsafeBufferPointer { b in average.withUnsafeBufferPointer { m in
            withBuffers(inputs) { xs in
                Parallel.forEachRange(count: rows, minimumChunk: max(1, (1 << 16) / max(columns, 1))) { rowRange in
                    for r in rowRange {
                        let range = r * columns ..< (r + 1) * columns
                        var cosines: [Double] = []
                        for p in 0..<k {
                            for q in (p + 1)..<k {
                                var dot = 0.0, np = 0.0, nq = 0.0
                                for j in range {
                                    let dp = Double(xs[p][j] - b[j]), dq = Double(xs[q][j] - b[j])
                                    dot += dp * dq; np += dp * dp; nq += dq * dq
                                }
                                cosines.append(min(1, max(-1, dot / max(np.squareRoot() * nq.squareRoot(), 1e-6))))
                            }
                        }
                        let cosine = cosines.reduce(0, +) / Double(cosines.count)
                        let denominator = 1 + Double(k - 1) * cosine
                        let t = T(abs(denominator) < 1e-6 ? 0 : Double(k) * cosine / denominator)
                        for j in range { o[j] = t * m[j] + (1 - t) * b[j] }
                    }
                }
            }
        } } }
        return out
    }
}

import Glibc

private func acosDouble(_ x: Double) -> Double { Glibc.acos(x) }
private func sinDouble(_ x: Double) -> Double { Glibc.sin(x) }
