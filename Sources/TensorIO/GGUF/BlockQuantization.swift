// The 32-element block quantizations Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1, one block at a time:
// ggml's reference quantizer (ggml-quants.c, `quantize_row_*_ref`), which gguf-py's
// `gguf.quants` reproduces bit for bit. Every step is the reference's float32 operation in
// the reference's order (no fused multiply-add), so the bytes are identical.
//
// Layouts (little-endian, `d` and `m` are IEEE half):
//   Q8_0  d, 32 x int8                        x = d * q
//   Q4_0  d, 16 bytes of nibbles              x = d * (q - 8)
//   Q4_1  d, m, 16 bytes of nibbles           x = d * q + m
//   Q5_0  d, u32 high bits, 16 bytes          x = d * (q - 16)
//   Q5_1  d, m, u32 high bits, 16 bytes       x = d * q + m
// Nibbles: byte j holds element j (low) and element j + 16 (high).

enum BlockQuantization {
    static let block = 32

    // MARK: helpers shared with the k-quants

    @inline(__always) static func storeHalf(_ value: Float, _ out: UnsafeMutableRawPointer, _ offset: Int) {
        out.storeBytes(of: GGMLCodec.half(value).littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inline(__always) static func loadHalf(_ bytes: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }

    /// C's `(int)value` clamped to 0...hi, with NaN as 0 (Swift's Int(Float) traps on it).
    @inline(__always) static func truncated(_ value: Float, _ hi: Int) -> UInt8 {
        guard value > 0 else { return 0 }
        return value >= Float(hi) ? UInt8(hi) : UInt8(Int(value))
    }

    /// The first element of largest magnitude, as numpy's argmax picks it (the sign matters).
    @inline(__always) static func signedMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var best = x[0]
        var magnitude = abs(x[0])
        for j in 1..<n where abs(x[j]) > magnitude {
            magnitude = abs(x[j])
            best = x[j]
        }
        return best
    }

    @inline(__always) static func range(_ x: UnsafePointer<Float>, _ n: Int) -> (min: Float, max: Float) {
        var low = x[0], high = x[0]
        for j in 1..<n {
            low = Swift.min(low, x[j])
            high = Swift.max(high, x[j])
        }
        return (low, high)
    }

    // MARK: quantize one block of 32

    /// Q8_0 of one block, in loops the compiler vectorises (no per-element library call for
    /// the rounding): the maximum magnitude as the largest bit pattern (the same float for
    /// finite values), C's `roundf` as `floor(|v| + 0.5)` with the sign put back. A block
    /// holding infinity or NaN, or whose scale overflows, takes the element-wise reference.
    static func quantizeQ8_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var maxBits: UInt32 = 0
        for j in 0..<block { maxBits = Swift.max(maxBits, x[j].bitPattern & 0x7FFF_FFFF) }
        let d = Float(bitPattern: maxBits) / 127
        let id: Float = d != 0 ? 1 / d : 0
        guard maxBits < 0x7F80_0000, id.isFinite else { return quantizeQ8_0Reference(x, out) }
        storeHalf(d, out, 0)
        for j in 0..<block {
            let v = x[j] * id
            out.storeBytes(of: Int8(truncatingIfNeeded: roundedAway(v)), toByteOffset: 2 + j, as: Int8.self)
        }
    }

    /// `Int32(v.rounded(.toNearestOrAwayFromZero))` for |v| <= 127 (clamped there), without a
    /// call or a trap check. `|v| + 0.5` is exact except below 0.5, where it may round up to
    /// 1 (0.49999997 + 0.5): those are 0. The floor of a value under 2^23 is the nearest
    /// integer (adding and taking away 2^23) less one when that rounded up; the integer's bits
    /// are read off the mantissa of `integer + 2^23`.
    @inline(__always) static func roundedAway(_ v: Float) -> Int32 {
        let magnitude = Swift.min(abs(v), 127)
        let y = magnitude + 0.5
        let nearest = (y + 8_388_608) - 8_388_608
        let floor = nearest > y ? nearest - 1 : nearest
        let rounded = magnitude < 0.5 ? 0 : floor
        let integer = Int32(bitPattern: (rounded + 8_388_608).bitPattern &- 0x4B00_0000)
        return v < 0 ? 0 &- integer : integer
    }

    /// ggml's quantize_row_q8_0_ref as written, element by element.
    static func quantizeQ8_0Reference(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<block { amax = Swift.max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        for j in 0..<block {
            let q = (x[j] * id).rounded(.toNearestOrAwayFromZero)
            out.storeBytes(of: q.isNaN ? 0 : Int8(Swift.max(-128, Swift.min(127, q))), toByteOffset: 2 + j, as: Int8.self)
        }
    }

    static func quantizeQ4_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let d = signedMax(x, block) / -8
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        for j in 0..<16 {
            let low = truncated(x[j] * id + 8.5, 15), high = truncated(x[j + 16] * id + 8.5, 15)
            out.storeBytes(of: low | (high << 4), toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    static func quantizeQ4_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let (low, high) = range(x, block)
        let d = (high - low) / 15
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        storeHalf(low, out, 2)
        for j in 0..<16 {
            let a = truncated((x[j] - low) * id + 0.5, 15), b = truncated((x[j + 16] - low) * id + 0.5, 15)
            out.storeBytes(of: a | (b << 4), toByteOffset: 4 + j, as: UInt8.self)
        }
    }

    static func quantizeQ5_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let d = signedMax(x, block) / -16
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let a = truncated(x[j] * id + 16.5, 31), b = truncated(x[j + 16] * id + 16.5, 31)
            out.storeBytes(of: (a & 0x0F) | (b << 4), toByteOffset: 6 + j, as: UInt8.self)
            qh |= UInt32(a >> 4) << j | UInt32(b >> 4) << (j + 16)
        }
        out.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }

    static func quantizeQ5_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let (low, high) = range(x, block)
        let d = (high - low) / 31
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        storeHalf(low, out, 2)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let a = truncated((x[j] - low) * id + 0.5, 31), b = truncated((x[j + 16] - low) * id + 0.5, 31)
            out.storeBytes(of: (a & 0x0F) | (b << 4), toByteOffset: 8 + j, as: UInt8.self)
            qh |= UInt32(a >> 4) << j | UInt32(b >> 4) << (j + 16)
        }
        out.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    // MARK: dequantize one block of 32

    static func dequantizeQ8_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        for j in 0..<block { y[j] = Float(b.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }

    static func dequantizeQ4_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        for j in 0..<16 {
            let q = b.load(fromByteOffset: 2 + j, as: UInt8.self)
            y[j] = d * Float(Int(q & 0x0F) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    static func dequantizeQ4_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0), m = loadHalf(b, 2)
        for j in 0..<16 {
            let q = b.load(fromByteOffset: 4 + j, as: UInt8.self)
            y[j] = d * Float(q & 0x0F) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    static func dequantizeQ5_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0..<16 {
            let q = b.load(fromByteOffset: 6 + j, as: UInt8.self)
            let a = Int(q & 0x0F) | Int((qh >> j) & 1) << 4
            let c = Int(q >> 4) | Int((qh >> (j + 16)) & 1) << 4
            y[j] = d * Float(a - 16)
            y[j + 16] = d * Float(c - 16)
        }
    }

    static func dequantizeQ5_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0), m = loadHalf(b, 2)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        for j in 0..<16 {
            let q = b.load(fromByteOffset: 8 + j, as: UInt8.self)
            let a = Int(q & 0x0F) | Int((qh >> j) & 1) << 4
            let c = Int(q >> 4) | Int((qh >> (j + 16)) & 1) << 4
            y[j] = d * Float(a) + m
            y[j + 16] = d * Float(c) + m
        }
    }
}
