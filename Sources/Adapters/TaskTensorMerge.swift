// The ways several "task tensors" (same-shaped tensors, one per adapter) become one, as PEFT
// defines them (peft.utils.merge_utils) and the TIES / DARE papers describe them:
//
//   linear          sum_i w_i t_i                                      (task arithmetic)
//   magnitude_prune sum_i w_i prune_top(t_i, density)
//   ties            prune_top each t_i; elect a sign per element from the pruned, unweighted
//                   t_i (total: sign of sum_i t_i; frequency: sign of sum_i sign t_i; ties go
//                   to +); then the mean of the weighted w_i t_i that agree with the sign,
//                   over the count that agree (at least 1)
//   dare_linear     t_i keeps each element with probability density, rescaled by 1/density,
//                   then linear
//   dare_ties       the DARE mask and rescale, then ties' sign election and disjoint mean
//
// prune_top keeps the int(density * count) elements of largest magnitude (ties broken by
// position); density >= 1 keeps everything. The random masks come from a SeededGenerator
// whose seed the caller derives from --seed, the module and the tensor, so a result does
// not depend on the order modules are processed in.

import Compute

public enum TaskMerge: String, Sendable, CaseIterable {
    case linear
    case magnitudePrune = "magnitude_prune"
    case ties
    case dareLinear = "dare_linear"
    case dareTies = "dare_ties"

    var prunesByMagnitude: Bool { self == .magnitudePrune || self == .ties }
    var dropsAtRandom: Bool { self == .dareLinear || self == .dareTies }
    var electsSign: Bool { self == .ties || self == .dareTies }
}

public enum MajoritySignMethod: String, Sendable, CaseIterable {
    case total
    case frequency
}

public struct TaskMergeParameters: Sendable {
    public var density: Double
    public var signMethod: MajoritySignMethod
    public var seed: UInt64

    public init(density: Double = 1, signMethod: MajoritySignMethod = .total, seed: UInt64 = 0) {
        self.density = density
        self.signMethod = signMethod
        self.seed = seed
    }
}

enum TaskTensors {
    /// Merges `tensors` (equal counts) with `weights`; `seeds[i]` seeds tensor i's DARE mask.
    static func merge(_ tensors: [[Double]], weights: [Double], method: TaskMerge,
                      parameters: TaskMergeParameters, seeds: [UInt64]) -> [Double] {
        precondition(tensors.count == weights.count && !tensors.isEmpty)
        let count = tensors[0].count
        var pruned = tensors
        if method.prunesByMagnitude {
            pruned = pruned.map { keepLargest($0, density: parameters.density) }
        } else if method.dropsAtRandom {
            pruned = zip(pruned, seeds).map { dropAtRandom($0, density: parameters.density, seed: $1) }
        }
        var out = [Double](repeating: 0, count: count)
        guard method.electsSign else {
            for (t, w) in zip(pruned, weights) { for j in 0..<count { out[j] += w * t[j] } }
            return out
        }
        for j in 0..<count {
            var vote = 0.0
            for t in pruned {
                switch parameters.signMethod {
                case .total: vote += t[j]
                case .frequency: vote += t[j] > 0 ? 1 : t[j] < 0 ? -1 : 0
                }
            }
            let positive = vote >= 0
            var sum = 0.0, agreeing = 0.0
            for (t, w) in zip(pruned, weights) where positive ? t[j] > 0 : t[j] < 0 {
                sum += w * t[j]
                agreeing += 1
            }
            out[j] = sum / max(agreeing, 1)
        }
        return out
    }

    /// The int(density * count) largest magnitudes kept, the rest zeroed (PEFT's prune).
    static func keepLargest(_ values: [Double], density: Double) -> [Double] {
        guard density < 1 else { return values }
        return keepByMagnitude(values, skipLargest: 0, keep: Int(density * Double(values.count)))
    }

    /// The primitive behind every magnitude pruning (PEFT's and mergekit's TIES, mergekit's
    /// breadcrumbs): in the order of decreasing magnitude (ties broken by position), the
    /// first `skipLargest` elements are zeroed, the next `keep` kept, the rest zeroed.
    static func keepByMagnitude<T: BinaryFloatingPoint>(_ values: [T], skipLargest: Int, keep: Int) -> [T] {
        var out = values
        keepByMagnitude(&out, skipLargest: skipLargest, keep: keep)
        return out
    }

    /// keepByMagnitude in place: the elements outside the kept ranks are zeroed.
    static func keepByMagnitude<T: BinaryFloatingPoint>(_ values: inout [T], skipLargest: Int, keep: Int) {
        let n = values.count
        if skipLargest <= 0 && keep >= n { return }
        let first = max(0, skipLargest), last = min(n, first + max(0, keep))
        guard first < last else {
            values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            return
        }
        // Selection (not a sort) finds the magnitudes at the first and last kept ranks in
        // linear time; one pass then ranks the elements equal to those two by position, which
        // is the order a stable sort of the indices would give.
        var magnitudes = values.map { abs($0) }
        let low = selectDescending(&magnitudes, rank: last - 1, in: 0..<n)
        // After the first selection everything at ranks below last - 1 is in front of it; the
        // value at rank 0 is their largest, found by a scan.
        let high: T
        if first == last - 1 {
            high = low
        } else if first == 0 {
            high = magnitudes.withUnsafeBufferPointer { m in
                var largest = m[0]
                for i in 1..<(last - 1) where m[i] > largest { largest = m[i] }
                return largest
            }
        } else {
            high = selectDescending(&magnitudes, rank: first, in: 0..<(last - 1))
        }
        magnitudes = []
        values.withUnsafeMutableBufferPointer { x in
            var aboveHigh = 0, aboveLow = 0
            for i in 0..<n {
                let m = abs(x[i])
                if m > high { aboveHigh += 1 }
                if m > low { aboveLow += 1 }
            }
            var seenHigh = 0, seenLow = 0
            for i in 0..<n {
                let m = abs(x[i])
                var rank: Int
                if m == high { rank = aboveHigh + seenHigh; seenHigh += 1; if high == low { seenLow = seenHigh } }
                else if m == low { rank = aboveLow + seenLow; seenLow += 1 }
                else if m < high && m > low { rank = first }  // strictly between: inside the kept ranks
                else { x[i] = 0; continue }
                if rank < first || rank >= last { x[i] = 0 }
            }
        }
    }

    /// The value at `rank` (0-based) of `range` in descending order, found by quickselect
    /// (Hoare partitions around a pseudo-random pivot, deterministic per call); on return the
    /// larger values of the range are before `rank` and the smaller after it.
    static func selectDescending<T: BinaryFloatingPoint>(_ a: inout [T], rank: Int, in range: Range<Int>) -> T {
        var lo = range.lowerBound, hi = range.upperBound - 1
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(a.count)
        return a.withUnsafeMutableBufferPointer { x in
            while lo < hi {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let pivot = x[lo + Int((state >> 33) % UInt64(hi - lo + 1))]
                var i = lo, j = hi
                while i <= j {
                    while x[i] > pivot { i += 1 }
                    while x[j] < pivot { j -= 1 }
                    if i <= j { x.swapAt(i, j); i += 1; j -= 1 }
                }
                if rank <= j { hi = j } else if rank >= i { lo = i } else { return x[rank] }
            }
            return x[rank]
        }
    }

    /// DARE: each element kept with probability density and divided by density.
    static func dropAtRandom(_ values: [Double], density: Double, seed: UInt64) -> [Double] {
        guard density < 1 else { return values }
        return keepAtRandom(values, density: density, seed: seed).map { $0 / density }
    }

    /// Each element kept with probability density (one uniform draw per element, in order),
    /// not rescaled: the callers rescale as their definitions say.
    static func keepAtRandom<T: BinaryFloatingPoint>(_ values: [T], density: Double, seed: UInt64) -> [T] {
        var out = values
        keepAtRandom(&out, density: density, seed: seed)
        return out
    }

    static func keepAtRandom<T: BinaryFloatingPoint>(_ values: inout [T], density: Double, seed: UInt64) {
        guard density < 1 else { return }
        var generator = SeededGenerator(seed: seed)
        values.withUnsafeMutableBufferPointer { x in
            for i in x.indices where !(generator.nextUnit() < density) { x[i] = 0 }
        }
    }

    /// A seed for one tensor: --seed mixed with a stable hash of the module, the adapter's
    /// position and which factor (FNV-1a, not Swift's per-process randomised Hasher).
    static func seed(_ base: UInt64, module: String, index: Int, part: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in module.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return base &* 0x9E37_79B9_7F4A_7C15 ^ hash ^ UInt64(index) << 32 ^ UInt64(part) << 48
    }
}
