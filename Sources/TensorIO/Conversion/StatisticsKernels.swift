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

    /// Float bits mapped to integers that order like the floats (the sign-magnitude flip), so
    /// min and max are integer reductions, which vectorise.
    @inline(__always)
    static func orderedKey(_ bits: SIMD8<Int32>) -> SIMD8<Int32> { bits ^ ((bits &>> 31) & 0x7FFF_FFFF) }

    static func floatBlock(_ p: UnsafeRawPointer, _ n: Int) -> StatisticsAccumulator {
        let vectors = n / 8
        var sum = SIMD8<Double>()
        var finite = SIMD8<Int32>(), nan = SIMD8<Int32>(), inf = SIMD8<Int32>(), zero = SIMD8<Int32>()
        var minKey = SIMD8<Int32>(repeating: .max), maxKey = SIMD8<Int32>(repeating: .min)
        let one = SIMD8<Int32>(repeating: 1)
        for v in 0..<vectors {
            let x = p.loadUnaligned(fromByteOffset: v * 32, as: SIMD8<Float>.self)
            let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
            let magnitude = bits & 0x7FFF_FFFF
            let isFinite = magnitude .< 0x7F80_0000
            finite &+= one.replacing(with: 0, where: .!isFinite)
            nan &+= one.replacing(with: 0, where: magnitude .<= 0x7F80_0000)
            inf &+= one.replacing(with: 0, where: magnitude .!= 0x7F80_0000)
            zero &+= one.replacing(with: 0, where: magnitude .!= 0)
            let key = orderedKey(bits)
            minKey = pointwiseMin(minKey, key.replacing(with: .max, where: .!isFinite))
            maxKey = pointwiseMax(maxKey, key.replacing(with: .min, where: .!isFinite))
            sum += SIMD8<Double>(x.replacing(with: 0, where: .!isFinite))
        }
        var result = StatisticsAccumulator()
        var finiteCount = Int(finite.wrappedSum())
        var total = sum.sum()
        var low = minKey.min(), high = maxKey.max()
        var tailMin = Double.infinity, tailMax = -Double.infinity
        for i in (vectors * 8)..<n {
            let x = p.load(fromByteOffset: i * 4, as: Float.self)
            if x.isFinite {
                finiteCount += 1; total += Double(x)
                tailMin = Swift.min(tailMin, Double(x)); tailMax = Swift.max(tailMax, Double(x))
                if x == 0 { result.zero += 1 }
            } else if x.isNaN { result.nan += 1 } else { result.inf += 1 }
        }
        result.nan += Int(nan.wrappedSum()); result.inf += Int(inf.wrappedSum()); result.zero += Int(zero.wrappedSum())
        guard finiteCount > 0 else { return result }
        let mean = total / Double(finiteCount)
        // Second pass while the block is in cache: squared deviations from the block mean.
        var squares = SIMD8<Double>()
        let meanVector = SIMD8<Double>(repeating: mean)
        for v in 0..<vectors {
            let x = p.loadUnaligned(fromByteOffset: v * 32, as: SIMD8<Float>.self)
            let magnitude = unsafeBitCast(x, to: SIMD8<Int32>.self) & 0x7FFF_FFFF
            let weight = SIMD8<Float>(repeating: 1).replacing(with: 0, where: magnitude .>= 0x7F80_0000)
            let d = (SIMD8<Double>(x.replacing(with: 0, where: magnitude .>= 0x7F80_0000)) - meanVector) * SIMD8<Double>(weight)
            squares += d * d
        }
        var m2 = squares.sum()
        for i in (vectors * 8)..<n {
            let x = p.load(fromByteOffset: i * 4, as: Float.self)
            if x.isFinite { let d = Double(x) - mean; m2 += d * d }
        }
        if vectors > 0 && low != .max {
            low = orderedKey(SIMD8(repeating: low))[0]; high = orderedKey(SIMD8(repeating: high))[0]
            tailMin = Swift.min(tailMin, Double(Float(bitPattern: UInt32(bitPattern: low))))
            tailMax = Swift.max(tailMax, Double(Float(bitPattern: UInt32(bitPattern: high))))
        }
        result.finite = finiteCount
        result.mean = mean
        result.m2 = m2
        result.min = tailMin
        result.max = tailMax
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
