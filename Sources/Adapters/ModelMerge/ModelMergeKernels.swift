// The arithmetic of one merged tensor for each whole-model method, written to reproduce
// mergekit's results: the same operations in the same order in the working type (float32,
// or float64 for float64 inputs), so the deterministic methods (linear, task_arithmetic,
// ties and breadcrumbs without rescale, passthrough) give mergekit's bits. The reductions
// that torch vectorises (norms and dot products of slerp and model_stock, DARE's L1 rescale)
// are summed here in float64, which can move the last bit of the result.
//
// Magnitude pruning and the random masks are TaskTensors' (TaskTensorMerge.swift), shared
// with `loft combine`; only the scaling around them differs between PEFT and mergekit.

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
        let count = base.count
        guard !inputs.isEmpty else { return base }
        var deltas: [[T]] = inputs.enumerated().map { i, x in
            var delta = [T](repeating: 0, count: count)
            for j in 0..<count { delta[j] = x[j] - base[j] }
            switch method.sparsification {
            case nil: return delta
            case .magnitude?: return sparsifyByMagnitude(delta, density: densities[i], rescale: method.rescale)
            case .random?: return sparsifyAtRandom(delta, density: densities[i], seed: seeds[i], rescale: method.rescale)
            case .magnitudeOutliers?: return sparsifyOutliers(delta, density: densities[i], gamma: gammas[i], rescale: method.rescale)
            }
        }
        let w = weights.map { T($0) }
        for i in deltas.indices { for j in 0..<count { deltas[i][j] = deltas[i][j] * w[i] } }

        // One pass writes the result: no per-element divisor or sum arrays beside the deltas.
        let lambda = T(method.lambda)
        var out = [T](repeating: 0, count: count)
        func finish(_ j: Int, _ sum: T, _ divisor: T) {
            var m = sum
            if method.normalize { m = m / divisor }
            if method.lambda != 1 { m = m * lambda }
            out[j] = base[j] + m
        }
        if method.consensus != nil {
            for j in 0..<count {
                var vote: T = 0
                for d in deltas { vote = vote + d[j] }
                let majority: T = vote >= 0 ? 1 : -1
                var sum: T = 0, divisor: T = 0
                for (d, weight) in zip(deltas, w) where sign(d[j]) == majority {
                    sum = sum + d[j]
                    divisor = divisor + weight
                }
                finish(j, sum, divisor == 0 ? 1 : divisor)
            }
        } else {
            var divisor: T = 0
            for weight in w { divisor = divisor + weight }
            if abs(divisor) < T(1e-8) { divisor = 1 }
            for j in 0..<count {
                var sum: T = 0
                for d in deltas { sum = sum + d[j] }
                finish(j, sum, divisor)
            }
        }
        return out
    }

    private static func sign<T: BinaryFloatingPoint>(_ x: T) -> T { x > 0 ? 1 : x < 0 ? -1 : 0 }

    /// TIES' pruning: the max(1, int(density * n)) largest magnitudes.
    static func sparsifyByMagnitude<T: BinaryFloatingPoint>(_ x: [T], density: Double, rescale: Bool) -> [T] {
        if density >= 1 { return x }
        if density <= 0 || x.isEmpty { return [T](repeating: 0, count: x.count) }
        let keep = max(1, Int(density * Double(x.count)))
        return rescaled(x, TaskTensors.keepByMagnitude(x, skipLargest: 0, keep: keep), rescale)
    }

    /// Breadcrumbs: the int(gamma * n) largest magnitudes (outliers) and the smallest dropped,
    /// int(density * n) kept (fewer outliers dropped when both cannot hold).
    static func sparsifyOutliers<T: BinaryFloatingPoint>(_ x: [T], density: Double, gamma: Double, rescale: Bool) -> [T] {
        if density >= 1 { return x }
        let n = x.count
        let target = Int(density * Double(n)), top = Int(gamma * Double(n))
        let bottom = max(0, n - target - top)
        return rescaled(x, TaskTensors.keepByMagnitude(x, skipLargest: n - bottom - target, keep: target), rescale)
    }

    /// DARE: each element kept with probability density; with rescale, the kept elements are
    /// scaled so the L1 norm is that of the whole delta (mergekit's rescale, not PEFT's
    /// 1 / density).
    static func sparsifyAtRandom<T: BinaryFloatingPoint>(_ x: [T], density: Double, seed: UInt64, rescale: Bool) -> [T] {
        if density >= 1 { return x }
        return rescaled(x, TaskTensors.keepAtRandom(x, density: density, seed: seed), rescale)
    }

    /// mergekit's rescaled_masked_tensor with the L1 norm.
    private static func rescaled<T: BinaryFloatingPoint>(_ original: [T], _ masked: [T], _ rescale: Bool) -> [T] {
        guard rescale else { return masked }
        var before = 0.0, after = 0.0
        for v in original { before += abs(Double(v)) }
        for v in masked { after += abs(Double(v)) }
        let b = T(before), a = T(after)
        if b < T(1e-7) || a < T(1e-7) { return masked }
        let factor = b / a
        return masked.map { $0 * factor }
    }

    /// mergekit's slerp of the whole tensor: the angle between the normalised tensors; nearly
    /// parallel ones (|cos| > 0.9995) are interpolated linearly.
    static func slerp<T: BinaryFloatingPoint>(t: Double, _ a: [T], _ b: [T]) -> [T] {
        let tt = T(t)
        var normA = 0.0, normB = 0.0
        for v in a { normA += Double(v) * Double(v) }
        for v in b { normB += Double(v) * Double(v) }
        normA = normA.squareRoot(); normB = normB.squareRoot()
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
        for j in a.indices { out[j] = ca * a[j] + cb * b[j] }
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
        for x in inputs { for j in 0..<count { average[j] = average[j] + x[j] } }
        let kk = T(k)
        for j in 0..<count { average[j] = average[j] / kk }
        var out = [T](repeating: 0, count: count)
        for r in 0..<rows {
            let range = r * columns ..< (r + 1) * columns
            var cosines: [Double] = []
            for p in 0..<k {
                for q in (p + 1)..<k {
                    var dot = 0.0, np = 0.0, nq = 0.0
                    for j in range {
                        let dp = Double(inputs[p][j] - base[j]), dq = Double(inputs[q][j] - base[j])
                        dot += dp * dq; np += dp * dp; nq += dq * dq
                    }
                    cosines.append(min(1, max(-1, dot / max(np.squareRoot() * nq.squareRoot(), 1e-6))))
                }
            }
            let cosine = cosines.reduce(0, +) / Double(cosines.count)
            let denominator = 1 + Double(k - 1) * cosine
            let t = T(abs(denominator) < 1e-6 ? 0 : Double(k) * cosine / denominator)
            for j in range { out[j] = t * average[j] + (1 - t) * base[j] }
        }
        return out
    }
}

import Glibc

private func acosDouble(_ x: Double) -> Double { Glibc.acos(x) }
private func sinDouble(_ x: Double) -> Double { Glibc.sin(x) }
