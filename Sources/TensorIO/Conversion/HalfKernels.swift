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

    /// Exact widening: the 15 value bits move up 13 places, a multiplication by 2^112
    /// rebiases the exponent (and normalises the subnormals exactly), and Inf/NaN get the
    /// all-ones exponent back.
    @inline(__always)
    static func f16ToF32(_ source: UnsafePointer<UInt16>, _ destination: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let magic = Float(bitPattern: (254 - 15) << 23)
        let wasInfOrNaN = Float(bitPattern: (127 + 16) << 23)
        for i in 0..<count {
            let half = UInt32(source[i])
            let shifted = Float(bitPattern: (half & 0x7FFF) << 13) * magic
            var bits = shifted.bitPattern
            bits = shifted >= wasInfOrNaN ? bits | (255 << 23) : bits
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
