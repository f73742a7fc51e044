// Per-tensor summary for `loft inspect --stats`: min, max, mean and population standard
// deviation over the finite values, with NaN, Inf and zero counts.
//
// One pass over the data, split over the cores. Each block of up to 4096 elements is summed
// twice while it sits in L1 (its mean, then the squared deviations from that mean), in
// Double; blocks and threads are then merged with Chan et al.'s pairwise update. Unlike a
// running sum of squares this does not lose the variance of data far from zero (1e9 + N(0,1)).

import Compute

public struct TensorStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Elements in the tensor.
    public var count: Int
    /// Elements that are neither NaN nor ±Inf: the ones min, max, mean and std are over.
    public var finiteCount: Int
    public var nanCount: Int
    public var infCount: Int
    /// Elements equal to zero (-0.0 included; false for BOOL).
    public var zeroCount: Int
    /// Over the finite values; NaN when there are none (an empty, all-NaN or all-Inf tensor,
    /// or a dtype without readable values: F4, F6_*, F8_E8M0, the FNUZ types, complex).
    public var min: Double
    public var max: Double
    public var mean: Double
    /// Population standard deviation (NumPy's default ddof=0).
    public var std: Double

    public var description: String {
        "min \(min) max \(max) mean \(mean) std \(std) nan \(nanCount) inf \(infCount) zero \(zeroCount) of \(count)"
    }

    /// Whether `compute` reads the values of `dtype` (the others report only `count`).
    public static func supports(_ dtype: DType) -> Bool { DType.valueTypes.contains(dtype) }

    public static func compute(_ data: TensorData) -> TensorStatistics {
        compute(dtype: data.info.dtype, bytes: data.bytes, count: data.info.elementCount)
    }

    /// The statistics of two parts taken together (e.g. a large tensor computed in slices, to
    /// report progress): counts add, extremes combine, mean and std by Chan's update.
    public func merged(with other: TensorStatistics) -> TensorStatistics {
        var total = StatisticsAccumulator(self)
        total.merge(StatisticsAccumulator(other))
        return total.statistics(count: count + other.count)
    }

    /// The raw form: `count` little-endian `dtype` elements at `bytes`.
    public static func compute(dtype: DType, bytes: UnsafeRawBufferPointer, count: Int) -> TensorStatistics {
        guard supports(dtype), count > 0, let width = dtype.byteWidth, bytes.count >= count * width
        else { return StatisticsAccumulator().statistics(count: count) }
        let base = bytes.baseAddress!
        let threads = Swift.max(1, Swift.min(Parallel.coreCount, count / (1 << 16)))
        let partials = UnsafeMutableBufferPointer<StatisticsAccumulator>.allocate(capacity: threads)
        partials.initialize(repeating: StatisticsAccumulator())
        defer { partials.deallocate() }
        let step = (count + threads - 1) / threads
        // One range per thread, so each partial has a slot of its own.
        Parallel.forEachRange(count: threads, minimumChunk: 1) { threadRange in
            for thread in threadRange {
                let start = thread * step, end = Swift.min(count, start + step)
                if start < end { partials[thread] = StatisticsKernels.accumulate(dtype, base, start..<end) }
            }
        }
        var total = StatisticsAccumulator()
        for partial in partials { total.merge(partial) }
        return total.statistics(count: count)
    }
}

/// Count, mean and sum of squared deviations (M2) of the finite values seen so far, plus the
/// extremes and the special-value counts.
struct StatisticsAccumulator {
    var finite = 0
    var mean = 0.0
    var m2 = 0.0
    var min = Double.infinity
    var max = -Double.infinity
    var nan = 0
    var inf = 0
    var zero = 0

    init() {}

    init(_ statistics: TensorStatistics) {
        nan = statistics.nanCount; inf = statistics.infCount; zero = statistics.zeroCount
        finite = statistics.finiteCount
        if finite > 0 {
            mean = statistics.mean; min = statistics.min; max = statistics.max
            m2 = statistics.std * statistics.std * Double(finite)
        }
    }

    /// Chan, Golub and LeVeque's pairwise combination of two (n, mean, M2).
    mutating func merge(_ other: StatisticsAccumulator) {
        nan += other.nan; inf += other.inf; zero += other.zero
        min = Swift.min(min, other.min); max = Swift.max(max, other.max)
        guard other.finite > 0 else { return }
        guard finite > 0 else { finite = other.finite; mean = other.mean; m2 = other.m2; return }
        let n = Double(finite + other.finite)
        let delta = other.mean - mean
        mean += delta * Double(other.finite) / n
        m2 += other.m2 + delta * delta * Double(finite) * Double(other.finite) / n
        finite += other.finite
    }

    func statistics(count: Int) -> TensorStatistics {
        let empty = finite == 0
        return TensorStatistics(
            count: count, finiteCount: finite, nanCount: nan, infCount: inf, zeroCount: zero,
            min: empty ? .nan : min, max: empty ? .nan : max, mean: empty ? .nan : mean,
            std: empty ? .nan : (Swift.max(m2, 0) / Double(finite)).squareRoot())
    }
}
