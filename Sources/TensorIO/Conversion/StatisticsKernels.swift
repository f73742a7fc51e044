// The block loops behind TensorStatistics. F32 (and F16/BF16, widened to F32 a block at a
// time) run an explicitly vectorised loop: the compiler does not vectorise floating-point
// sums by itself (that would reorder additions). Every other dtype is widened to Double a
// block at a time and summed by a plain loop.

enum StatisticsKernels {
    static let blockSize = 4096

    static func accumulate(_ dtype: DType, _ base: UnsafeRawPointer, _ range: Range<Int>) -> StatisticsAccumulator {
        var total = StatisticsAccumulator()
        let width = dtype.byteWidth!
        let aligned = Int(bitPattern: base) % width == 0
        withUnsafeTemporaryAllocation(of: Double.self, capacity: blockSize) { scratch in
            let doubles = scratch.baseAddress!
            let floats = UnsafeMutableRawPointer(doubles).assumingMemoryBound(to: Float.self)
            var start = range.lowerBound
            while start < range.upperBound {
                let n = min(blockSize, range.upperBound - start)
                switch dtype {
                case .F32:
                    total.merge(floatBlock(UnsafeRawPointer(base + start * 4), n))
                case .F16 where aligned:
                    HalfKernels.f16ToF32(base.assumingMemoryBound(to: UInt16.self) + start,
                                         UnsafeMutableRawPointer(floats).assumingMemoryBound(to: UInt32.self), n)
                    total.merge(floatBlock(UnsafeRawPointer(floats), n))
                case .BF16 where aligned:
                    HalfKernels.bf16ToF32(base.assumingMemoryBound(to: UInt16.self) + start,
                                          UnsafeMutableRawPointer(floats).assumingMemoryBound(to: UInt32.self), n)
                    total.merge(floatBlock(UnsafeRawPointer(floats), n))
                default:
                    if dtype.isFloatingPoint {
                        GenericConversion.loadDoubles(dtype, base, start, n, doubles)
                    } else {
                        let integers = UnsafeMutableRawPointer(doubles).assumingMemoryBound(to: UInt64.self)
                        GenericConversion.loadIntegers(dtype, base, start, n, integers)
                        if dtype.isSignedInteger {
                            for i in 0..<n { doubles[i] = Double(Int64(bitPattern: integers[i])) }
                        } else {
                            for i in 0..<n { doubles[i] = Double(integers[i]) }
                        }
                    }
                    total.merge(doubleBlock(doubles, n))
                }
                start += n
            }
        }
        return total
    }

    /// F32 block: counts and extremes in an integer loop the compiler vectorises (float bits
    /// mapped to integers that order like the floats, so min and max are integer reductions),
    /// then the two sums with explicit SIMD in Double. No SIMD comparisons: Swift lowers
    /// those lane by lane; the masks come from arithmetic shifts instead.
    static func floatBlock(_ p: UnsafeRawPointer, _ n: Int) -> StatisticsAccumulator {
        var result = StatisticsAccumulator()
        var finite = 0, nan = 0, zero = 0
        var minKey = Int32.max, maxKey = Int32.min
        for i in 0..<n {
            let bits = Int32(bitPattern: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
            let magnitude = bits & 0x7FFF_FFFF
            let finiteMask = (magnitude &- 0x7F80_0000) &>> 31  // -1 when finite
            finite &-= Int(finiteMask)
            nan &-= Int((0x7F80_0000 &- magnitude) &>> 31)
            zero &-= Int((magnitude &- 1) &>> 31)
            let key = bits ^ ((bits &>> 31) & 0x7FFF_FFFF)
            minKey = Swift.min(minKey, (key & finiteMask) | (Int32.max & ~finiteMask))
            maxKey = Swift.max(maxKey, (key & finiteMask) | (Int32.min & ~finiteMask))
        }
        result.nan = nan
        result.zero = zero
        result.inf = n - finite - nan
        guard finite > 0 else { return result }

        let vectors = n / 8
        /// The lanes' values with NaN/Inf replaced by 0, and 1.0/0.0 as finiteness weights.
        @inline(__always) func finiteLanes(_ v: Int) -> (values: SIMD8<Double>, weights: SIMD8<Double>) {
            let bits = p.loadUnaligned(fromByteOffset: v * 32, as: SIMD8<UInt32>.self)
            let magnitude = SIMD8<Int32>(truncatingIfNeeded: bits & 0x7FFF_FFFF)
            let mask = SIMD8<UInt32>(truncatingIfNeeded: (magnitude &- 0x7F80_0000) &>> 31)
            let values = unsafeBitCast(bits & mask, to: SIMD8<Float>.self)
            let weights = unsafeBitCast(mask & 0x3F80_0000, to: SIMD8<Float>.self)
            return (SIMD8<Double>(values), SIMD8<Double>(weights))
        }
        var sum = SIMD8<Double>()
        for v in 0..<vectors { sum += finiteLanes(v).values }
        var total = sum.sum()
        for i in (vectors * 8)..<n {
            let x = p.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
            if x.isFinite { total += Double(x) }
        }
        let mean = total / Double(finite)
        // Second pass while the block is in cache: squared deviations from the block mean.
        var squares = SIMD8<Double>()
        let meanVector = SIMD8<Double>(repeating: mean)
        for v in 0..<vectors {
            let lanes = finiteLanes(v)
            let d = (lanes.values - meanVector) * lanes.weights
            squares += d * d
        }
        var m2 = squares.sum()
        for i in (vectors * 8)..<n {
            let x = p.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
            if x.isFinite { let d = Double(x) - mean; m2 += d * d }
        }
        result.finite = finite
        result.mean = mean
        result.m2 = m2
        result.min = Double(Float(bitPattern: UInt32(bitPattern: minKey ^ ((minKey &>> 31) & 0x7FFF_FFFF))))
        result.max = Double(Float(bitPattern: UInt32(bitPattern: maxKey ^ ((maxKey &>> 31) & 0x7FFF_FFFF))))
        return result
    }

    static func doubleBlock(_ values: UnsafeMutablePointer<Double>, _ n: Int) -> StatisticsAccumulator {
        var result = StatisticsAccumulator()
        var total = 0.0
        for i in 0..<n {
            let x = values[i]
            if x.isFinite {
                result.finite += 1
                total += x
                result.min = Swift.min(result.min, x)
                result.max = Swift.max(result.max, x)
                if x == 0 { result.zero += 1 }
            } else if x.isNaN {
                result.nan += 1
            } else {
                result.inf += 1
            }
        }
        guard result.finite > 0 else { return result }
        let mean = total / Double(result.finite)
        var m2 = 0.0
        for i in 0..<n where values[i].isFinite {
            let d = values[i] - mean
            m2 += d * d
        }
        result.mean = mean
        result.m2 = m2
        return result
    }
}
