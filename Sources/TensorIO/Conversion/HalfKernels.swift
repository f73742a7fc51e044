// The hot conversions, F32 <-> F16 and F32 <-> BF16, as branch-free loops over raw
// pointers that LLVM vectorises (no per-element calls: Swift's Float16 conversions go
// through compiler-rt on x86-64 without F16C).
//
// They match the references bit for bit, NaNs included: NumPy's float32 -> float16 keeps the
// top 10 payload bits of a NaN (at least 1), float16 -> float32 keeps the payload as is;
// ml_dtypes' float32 -> bfloat16 writes the quiet NaN 0x7FC0 with the sign, bfloat16 ->
// float32 is a shift.

enum HalfKernels {
    /// Rounding to nearest even by integer arithmetic (F. Giesen, "float_to_half_fast3_rtne"),
    /// with the subnormal results done by one float addition of a magic number, which rounds
    /// to nearest even in hardware.
    @inline(__always)
    static func f32ToF16(_ source: UnsafePointer<UInt32>, _ destination: UnsafeMutablePointer<UInt16>, _ count: Int) {
        let denormalMagic: UInt32 = ((127 - 15) + (23 - 10) + 1) << 23
        let denormalMagicFloat = Float(bitPattern: denormalMagic)
        for i in 0..<count {
            let bits = source[i]
            let sign = (bits >> 16) & 0x8000
            let magnitude = bits & 0x7FFF_FFFF
            // Normal result: rebias, add the rounding bias (0xFFF plus the odd bit), shift.
            let odd = (magnitude >> 13) & 1
            let normal = (magnitude &+ (UInt32(bitPattern: Int32(15 - 127)) << 23) &+ 0xFFF &+ odd) >> 13
            // Subnormal or zero result (magnitude below 2^-14).
            let subnormal = (Float(bitPattern: magnitude) + denormalMagicFloat).bitPattern &- denormalMagic
            // Magnitude at or above 65536 as f32 (or Inf/NaN): Inf, or NaN keeping its payload.
            let payload = (magnitude >> 13) & 0x3FF
            let special: UInt32 = magnitude > 0x7F80_0000 ? 0x7C00 | (payload == 0 ? 1 : payload) : 0x7C00
            var result = magnitude < (113 << 23) ? subnormal : normal
            result = magnitude >= ((127 + 16) << 23) ? special : result
            destination[i] = UInt16(truncatingIfNeeded: result | sign)
        }
    }

    /// Exact widening: normals move up 13 bits and are rebiased by an integer add, Inf/NaN
    /// get the all-ones exponent (payload kept), subnormals are their integer mantissa times
    /// 2^-24 (an int-to-float conversion, so no subnormal operand that a DAZ mode could zero).
    @inline(__always)
    static func f16ToF32(_ source: UnsafePointer<UInt16>, _ destination: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let subnormalScale = Float(bitPattern: (127 - 24) << 23)  // 2^-24
        for i in 0..<count {
            let half = UInt32(source[i])
            let magnitude = half & 0x7FFF
            let shifted = magnitude << 13
            let normal = shifted &+ ((127 - 15) << 23)
            let infOrNaN = shifted | 0x7F80_0000
            let subnormal = (Float(Int32(bitPattern: magnitude)) * subnormalScale).bitPattern
            var bits = magnitude < 0x0400 ? subnormal : normal
            bits = magnitude >= 0x7C00 ? infOrNaN : bits
            destination[i] = bits | ((half & 0x8000) << 16)
        }
    }

    @inline(__always)
    static func f32ToBF16(_ source: UnsafePointer<UInt32>, _ destination: UnsafeMutablePointer<UInt16>, _ count: Int) {
        // Round to nearest even by adding 0x7FFF plus the lowest kept bit; a carry rounds the
        // largest finite values up to Inf, as ml_dtypes does.
        for i in 0..<count {
            let bits = source[i]
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
            let isNaN = bits & 0x7FFF_FFFF > 0x7F80_0000
            destination[i] = UInt16(truncatingIfNeeded: isNaN ? ((bits >> 16) & 0x8000) | 0x7FC0 : rounded)
        }
    }

    /// F32 -> F8_E4M3 / F8_E5M2: the same scheme as `f32ToF16` for any narrow format, with
    /// the overflow code of the format (Inf for E5M2; NaN for E4M3, which has no Inf) and the
    /// canonical NaN, as ml_dtypes writes them.
    @inline(__always)
    static func f32ToF8(_ source: UnsafePointer<UInt32>, _ destination: UnsafeMutablePointer<UInt8>, _ count: Int, format: MiniFloatFormat) {
        let mantissaBits = UInt32(format.mantissaBits)
        let shift = 23 - mantissaBits
        let bias = UInt32(format.bias)
        let rebias = UInt32(bitPattern: Int32(format.bias - 127)) << 23
        let roundingBias: UInt32 = (1 << (shift - 1)) - 1
        let smallestNormal = (127 - bias + 1) << 23
        let denormalMagic = ((127 - bias) + shift + 1) << 23
        let denormalMagicFloat = Float(bitPattern: denormalMagic)
        let maxFinite = UInt32(format.maxFiniteCode)
        let overflow = UInt32(format.hasInfinity ? format.infinityCode : format.canonicalNaN)
        let nan = UInt32(format.canonicalNaN)
        let signShift = UInt32(31 - format.exponentBits - format.mantissaBits)
        for i in 0..<count {
            let bits = source[i]
            let sign = (bits >> signShift) & UInt32(format.signBit)
            let magnitude = bits & 0x7FFF_FFFF
            let odd = (magnitude >> shift) & 1
            let normal = (magnitude &+ rebias &+ roundingBias &+ odd) >> shift
            let subnormal = (Float(bitPattern: magnitude) + denormalMagicFloat).bitPattern &- denormalMagic
            var result = magnitude < smallestNormal ? subnormal : normal
            // Past the largest finite code (Inf included: its rebiased exponent is far past)
            // is the overflow code. The rebiasing cannot wrap: it lowers the exponent.
            result = result > maxFinite ? overflow : result
            result = magnitude > 0x7F80_0000 ? nan : result
            destination[i] = UInt8(truncatingIfNeeded: result | sign)
        }
    }

    @inline(__always)
    static func bf16ToF32(_ source: UnsafePointer<UInt16>, _ destination: UnsafeMutablePointer<UInt32>, _ count: Int) {
        for i in 0..<count { destination[i] = UInt32(source[i]) << 16 }
    }

    @inline(__always)
    static func f32ToF64(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Double>, _ count: Int) {
        for i in 0..<count { destination[i] = Double(source[i]) }
    }

    @inline(__always)
    static func f64ToF32(_ source: UnsafePointer<Double>, _ destination: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { destination[i] = Float(source[i]) }
    }
}
