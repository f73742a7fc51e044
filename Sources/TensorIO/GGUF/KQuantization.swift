// The k-quants, one super-block of 256 elements at a time: Q4_K, Q5_K and Q6_K quantized with
// ggml's reference algorithm (ggml-quants.c `quantize_row_q{4,5,6}_K_ref`, what llama-quantize
// runs without an importance matrix), and Q2_K...Q6_K dequantized. The float operations are
// the reference's, in its order, so the bytes match ggml's on the same input.
//
// Layouts (d, dmin: IEEE half):
//   Q2_K  scales[16] (4-bit scale | 4-bit min), qs[64] (2-bit), d, dmin
//   Q3_K  hmask[32], qs[64] (2-bit), scales[12] (6-bit, packed), d
//   Q4_K  d, dmin, scales[12] (8 x 6-bit scale, 8 x 6-bit min), qs[128] (nibbles)
//   Q5_K  d, dmin, scales[12], qh[32] (fifth bits), qs[128]
//   Q6_K  ql[128], qh[64], scales[16] (int8), d

enum KQuantization {
    static let n = GGMLType.superBlock

    /// ggml's `nearest_int`: round half to even through the float adder (defined for NaN and
    /// huge values too, where Swift's conversions trap).
    @inline(__always) static func nearestInt(_ value: Float) -> Int {
        Int((value + 12582912).bitPattern & 0x007F_FFFF) - 0x0040_0000
    }

    // MARK: Q4_K and Q5_K

    /// ggml's `make_qkx2_quants`: a scale and a (negated) minimum for `count` values by a
    /// weighted least-squares search; fills `levels`.
    static func makeQKX2(count: Int, nmax: Int, _ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, levels: UnsafeMutablePointer<UInt8>,
                         rmin: Float, rdelta: Float, steps: Int) -> (scale: Float, min: Float) {
        var low = x[0], high = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<count {
            if x[i] < low { low = x[i] }
            if x[i] > high { high = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if low > 0 { low = 0 }
        if high == low {
            for i in 0..<count { levels[i] = 0 }
            return (0, -low)
        }
        var iscale = Float(nmax) / (high - low)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<count {
            let l = nearestInt(iscale * (x[i] - low))
            levels[i] = UInt8(max(0, min(nmax, l)))
            let diff = scale * Float(levels[i]) + low - x[i]
            bestError += weights[i] * (diff * diff)
        }
        var trial = [UInt8](repeating: 0, count: count)
        for step in 0...steps {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (high - low)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<count {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - low))))
                trial[i] = UInt8(l)
                let w = weights[i]
                sumL += w * Float(l)
                sumL2 += w * Float(l) * Float(l)
                sumXL += w * Float(l) * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var error: Float = 0
                for i in 0..<count {
                    let diff = thisScale * Float(trial[i]) + thisMin - x[i]
                    error += weights[i] * (diff * diff)
                }
                if error < bestError {
                    for i in 0..<count { levels[i] = trial[i] }
                    bestError = error
                    scale = thisScale
                    low = thisMin
                }
            }
        }
        return (scale, -low)
    }

    /// ggml's `get_scale_min_k4`: sub-block j's 6-bit scale and min from the packed 12 bytes.
    @inline(__always) static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (UInt8, UInt8) {
        func byte(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0xF) | ((byte(j - 4) >> 6) << 4), (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4))
    }

    /// The part Q4_K and Q5_K share: per 32-element sub-block scales and mins, packed into
    /// `scales` (12 bytes at offset 4) with d and dmin at 0 and 2; the levels land in `levels`.
    static func quantizeScaledMin(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, nmax: Int, rmin: Float, steps: Int,
                                  levels: UnsafeMutablePointer<UInt8>) {
        var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
        var weights = [Float](repeating: 0, count: 32)
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += x[32 * j + l] * x[32 * j + l] }
            let average = (sumX2 / 32).squareRoot()
            for l in 0..<32 { weights[l] = average + abs(x[32 * j + l]) }
            let (scale, minimum) = weights.withUnsafeBufferPointer {
                makeQKX2(count: 32, nmax: nmax, x + 32 * j, weights: $0.baseAddress!, levels: levels + 32 * j, rmin: rmin, rdelta: 0.1, steps: steps)
            }
            scales[j] = scale
            mins[j] = minimum
            if scale > maxScale { maxScale = scale }
            if minimum > maxMin { maxMin = minimum }
        }
        let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let packed = out + 4
        for i in 0..<12 { packed.storeBytes(of: 0, toByteOffset: i, as: UInt8.self) }
        func or(_ i: Int, _ value: UInt8) { packed.storeBytes(of: packed.load(fromByteOffset: i, as: UInt8.self) | value, toByteOffset: i, as: UInt8.self) }
        for j in 0..<8 {
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseScale * scales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(inverseMin * mins[j])))
            if j < 4 {
                or(j, ls)
                or(j + 4, lm)
            } else {
                or(j + 4, (ls & 0xF) | ((lm & 0xF) << 4))
                or(j - 4, (ls >> 4) << 6)
                or(j, (lm >> 4) << 6)
            }
        }
        BlockQuantization.storeHalf(maxScale / 63, out, 0)
        BlockQuantization.storeHalf(maxMin / 63, out, 2)
        let dAll = BlockQuantization.loadHalf(out, 0), minAll = BlockQuantization.loadHalf(out, 2)
        for j in 0..<8 {
            let (sc, m) = scaleMin(j, packed)
            let d = dAll * Float(sc)
            if d == 0 { continue }
            let dm = minAll * Float(m)
            for i in 0..<32 { levels[32 * j + i] = UInt8(max(0, min(nmax, nearestInt((x[32 * j + i] + dm) / d)))) }
        }
    }

    static func quantizeQ4_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { levels in
            let L = levels.baseAddress!
            quantizeScaledMin(x, out, nmax: 15, rmin: -1, steps: 20, levels: L)
            for chunk in 0..<4 {
                for l in 0..<32 {
                    out.storeBytes(of: L[64 * chunk + l] | (L[64 * chunk + l + 32] << 4), toByteOffset: 16 + 32 * chunk + l, as: UInt8.self)
                }
            }
        }
    }

    static func quantizeQ5_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { levels in
            let L = levels.baseAddress!
            quantizeScaledMin(x, out, nmax: 31, rmin: -0.5, steps: 15, levels: L)
            var qh = [UInt8](repeating: 0, count: 32)
            var m1: UInt8 = 1, m2: UInt8 = 2
            for chunk in 0..<4 {
                for j in 0..<32 {
                    var l1 = L[64 * chunk + j], l2 = L[64 * chunk + j + 32]
                    if l1 > 15 { l1 -= 16; qh[j] |= m1 }
                    if l2 > 15 { l2 -= 16; qh[j] |= m2 }
                    out.storeBytes(of: l1 | (l2 << 4), toByteOffset: 48 + 32 * chunk + j, as: UInt8.self)
                }
                m1 <<= 2
                m2 <<= 2
            }
            for j in 0..<32 { out.storeBytes(of: qh[j], toByteOffset: 16 + j, as: UInt8.self) }
        }
    }

    // MARK: Q6_K

    /// ggml's `make_qx_quants` with rmse_type 1 and no importance weights (weights x^2).
    static func makeQX(count: Int, nmax: Int, _ x: UnsafePointer<Float>, levels: UnsafeMutablePointer<Int8>) -> Float {
        var maxValue: Float = 0, amax: Float = 0
        for i in 0..<count where abs(x[i]) > amax {
            amax = abs(x[i])
            maxValue = x[i]
        }
        if amax < 1e-15 {
            for i in 0..<count { levels[i] = 0 }
            return 0
        }
        var iscale = Float(-nmax) / maxValue
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<count {
            let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
            levels[i] = Int8(l + nmax)
            let w = x[i] * x[i]
            sumLX += w * x[i] * Float(l)
            sumL2 += w * Float(l) * Float(l)
        }
        var scale = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / maxValue
            sumLX = 0
            sumL2 = 0
            for i in 0..<count {
                let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
                let w = x[i] * x[i]
                sumLX += w * x[i] * Float(l)
                sumL2 += w * Float(l) * Float(l)
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<count { levels[i] = Int8(nmax + max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }

    static func quantizeQ6_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: n) { levels in
            let L = levels.baseAddress!
            var scales = [Float](repeating: 0, count: 16)
            var maxScale: Float = 0, maxAbsScale: Float = 0
            for block in 0..<16 {
                let scale = makeQX(count: 16, nmax: 32, x + 16 * block, levels: L + 16 * block)
                scales[block] = scale
                if abs(scale) > maxAbsScale {
                    maxAbsScale = abs(scale)
                    maxScale = scale
                }
            }
            if maxAbsScale < 1e-15 {
                for i in 0..<GGMLType.Q6_K.typeSize { out.storeBytes(of: 0, toByteOffset: i, as: UInt8.self) }
                return
            }
            let iscale = -128 / maxScale
            BlockQuantization.storeHalf(1 / iscale, out, 208)
            for block in 0..<16 {
                out.storeBytes(of: Int8(truncatingIfNeeded: min(127, nearestInt(iscale * scales[block]))), toByteOffset: 192 + block, as: Int8.self)
            }
            let dAll = BlockQuantization.loadHalf(out, 208)
            for j in 0..<16 {
                let d = dAll * Float(out.load(fromByteOffset: 192 + j, as: Int8.self))
                if d == 0 { continue }
                for i in 0..<16 { L[16 * j + i] = Int8(max(-32, min(31, nearestInt(x[16 * j + i] / d))) + 32) }
            }
            for half in 0..<2 {
                let j = 128 * half
                for l in 0..<32 {
                    let q1 = UInt8(L[j + l]) & 0xF, q2 = UInt8(L[j + l + 32]) & 0xF
                    let q3 = UInt8(L[j + l + 64]) & 0xF, q4 = UInt8(L[j + l + 96]) & 0xF
                    out.storeBytes(of: q1 | (q3 << 4), toByteOffset: 64 * half + l, as: UInt8.self)
                    out.storeBytes(of: q2 | (q4 << 4), toByteOffset: 64 * half + l + 32, as: UInt8.self)
                    let h = (UInt8(L[j + l]) >> 4) | ((UInt8(L[j + l + 32]) >> 4) << 2) | ((UInt8(L[j + l + 64]) >> 4) << 4) | ((UInt8(L[j + l + 96]) >> 4) << 6)
                    out.storeBytes(of: h, toByteOffset: 128 + 32 * half + l, as: UInt8.self)
                }
            }
        }
    }

    // MARK: dequantize one super-block

    static func dequantizeQ2_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = BlockQuantization.loadHalf(b, 80), dmin = BlockQuantization.loadHalf(b, 82)
        var out = 0, scaleIndex = 0
        for half in 0..<2 {
            let q = b + 16 + 32 * half
            for shift in stride(from: 0, to: 8, by: 2) {
                for part in 0..<2 {
                    let sc = b.load(fromByteOffset: scaleIndex, as: UInt8.self)
                    scaleIndex += 1
                    let dl = d * Float(sc & 0xF), ml = dmin * Float(sc >> 4)
                    for l in 0..<16 {
                        y[out] = dl * Float((q.load(fromByteOffset: 16 * part + l, as: UInt8.self) >> shift) & 3) - ml
                        out += 1
                    }
                }
            }
        }
    }

    static func dequantizeQ3_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let dAll = BlockQuantization.loadHalf(b, 108)
        // The 16 6-bit scales: low 4 bits in bytes 0-7 (two per byte), high 2 bits in 8-11.
        var scales = [Int](repeating: 0, count: 16)
        for i in 0..<16 {
            let low = (b.load(fromByteOffset: 96 + i % 8, as: UInt8.self) >> (4 * UInt8(i / 8))) & 0xF
            let high = (b.load(fromByteOffset: 104 + i % 4, as: UInt8.self) >> (2 * UInt8(i / 4))) & 3
            scales[i] = Int(low | high << 4) - 32
        }
        var out = 0, scaleIndex = 0
        var mask: UInt8 = 1
        for half in 0..<2 {
            let q = b + 32 + 32 * half
            for shift in stride(from: 0, to: 8, by: 2) {
                for part in 0..<2 {
                    let dl = dAll * Float(scales[scaleIndex])
                    scaleIndex += 1
                    for l in 0..<16 {
                        let low = Int((q.load(fromByteOffset: 16 * part + l, as: UInt8.self) >> shift) & 3)
                        let high = b.load(fromByteOffset: 16 * part + l, as: UInt8.self) & mask != 0 ? 0 : 4
                        y[out] = dl * Float(low - high)
                        out += 1
                    }
                }
                mask <<= 1
            }
        }
    }

    static func dequantizeQ4_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = BlockQuantization.loadHalf(b, 0), dmin = BlockQuantization.loadHalf(b, 2)
        for chunk in 0..<4 {
            let (s1, m1) = scaleMin(2 * chunk, b + 4), (s2, m2) = scaleMin(2 * chunk + 1, b + 4)
            let d1 = d * Float(s1), n1 = dmin * Float(m1), d2 = d * Float(s2), n2 = dmin * Float(m2)
            for l in 0..<32 {
                let q = b.load(fromByteOffset: 16 + 32 * chunk + l, as: UInt8.self)
                y[64 * chunk + l] = d1 * Float(q & 0xF) - n1
                y[64 * chunk + 32 + l] = d2 * Float(q >> 4) - n2
            }
        }
    }

    static func dequantizeQ5_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = BlockQuantization.loadHalf(b, 0), dmin = BlockQuantization.loadHalf(b, 2)
        for chunk in 0..<4 {
            let (s1, m1) = scaleMin(2 * chunk, b + 4), (s2, m2) = scaleMin(2 * chunk + 1, b + 4)
            let d1 = d * Float(s1), n1 = dmin * Float(m1), d2 = d * Float(s2), n2 = dmin * Float(m2)
            let u1: UInt8 = 1 << (2 * chunk), u2: UInt8 = 2 << (2 * chunk)
            for l in 0..<32 {
                let q = b.load(fromByteOffset: 48 + 32 * chunk + l, as: UInt8.self)
                let h = b.load(fromByteOffset: 16 + l, as: UInt8.self)
                y[64 * chunk + l] = d1 * Float(Int(q & 0xF) + (h & u1 != 0 ? 16 : 0)) - n1
                y[64 * chunk + 32 + l] = d2 * Float(Int(q >> 4) + (h & u2 != 0 ? 16 : 0)) - n2
            }
        }
    }

    static func dequantizeQ6_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = BlockQuantization.loadHalf(b, 208)
        for half in 0..<2 {
            let ql = b + 64 * half, qh = b + 128 + 32 * half, sc = b + 192 + 8 * half
            for l in 0..<32 {
                let scaleIndex = l / 16
                let low0 = ql.load(fromByteOffset: l, as: UInt8.self), low32 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                let h = qh.load(fromByteOffset: l, as: UInt8.self)
                let q1 = Int((low0 & 0xF) | ((h >> 0) & 3) << 4) - 32
                let q2 = Int((low32 & 0xF) | ((h >> 2) & 3) << 4) - 32
                let q3 = Int((low0 >> 4) | ((h >> 4) & 3) << 4) - 32
                let q4 = Int((low32 >> 4) | ((h >> 6) & 3) << 4) - 32
                func scale(_ i: Int) -> Float { d * Float(sc.load(fromByteOffset: scaleIndex + i, as: Int8.self)) }
                y[128 * half + l] = scale(0) * Float(q1)
                y[128 * half + l + 32] = scale(2) * Float(q2)
                y[128 * half + l + 64] = scale(4) * Float(q3)
                y[128 * half + l + 96] = scale(6) * Float(q4)
            }
        }
    }
}
