// Bit-level encoding and decoding of the narrow float formats (F16, BF16, F8_E4M3, F8_E5M2)
// from and to Double.
//
// Every value of these formats (and of F32) is exact in a Double, so decoding is exact, and
// encoding rounds once, to nearest even, straight from the Double's bits. Going through Float
// first would round twice (wrong at some halfway cases); the integer paths use the same
// encoder after a round-to-odd step (see `DTypeConversion+Integers.swift`).
//
// Overflow and NaN follow the reference libraries (checked in fixtures/generators/dtypes.py):
// IEEE-like formats (F16, BF16, F8_E5M2) overflow to ±Inf; F8_E4M3 (ml_dtypes
// float8_e4m3fn) has no Inf, so overflow and ±Inf become NaN with the sign kept (0x7F/0xFF).

public struct MiniFloatFormat: Sendable, Equatable {
    public let exponentBits: Int
    public let mantissaBits: Int
    /// false for the "FN" formats: no infinity, only the all-ones code is NaN.
    public let hasInfinity: Bool

    public static let f16 = MiniFloatFormat(exponentBits: 5, mantissaBits: 10, hasInfinity: true)
    public static let bf16 = MiniFloatFormat(exponentBits: 8, mantissaBits: 7, hasInfinity: true)
    public static let e5m2 = MiniFloatFormat(exponentBits: 5, mantissaBits: 2, hasInfinity: true)
    public static let e4m3fn = MiniFloatFormat(exponentBits: 4, mantissaBits: 3, hasInfinity: false)

    @inline(__always) var bias: Int { (1 << (exponentBits - 1)) - 1 }
    @inline(__always) var signBit: UInt64 { 1 << UInt64(exponentBits + mantissaBits) }
    @inline(__always) var mantissaMask: UInt64 { (1 << UInt64(mantissaBits)) - 1 }
    @inline(__always) var exponentAllOnes: UInt64 { ((1 << UInt64(exponentBits)) - 1) << UInt64(mantissaBits) }
    @inline(__always) var infinityCode: UInt64 { exponentAllOnes }
    /// The quiet NaN the references produce when they do not carry a payload.
    @inline(__always) var canonicalNaN: UInt64 {
        hasInfinity ? exponentAllOnes | (1 << UInt64(mantissaBits - 1)) : signBit - 1
    }
    /// Largest finite magnitude code.
    @inline(__always) var maxFiniteCode: UInt64 {
        hasInfinity ? exponentAllOnes - 1 : signBit - 2
    }

    /// Rounds `value` to this format (nearest, ties to even).
    /// `keepNaNPayload`: NumPy's float32/float64 -> float16 casts keep the top payload bits of
    /// a NaN (forcing a nonzero mantissa); ml_dtypes always writes its canonical NaN.
    @inline(__always)
    public func encode(_ value: Double, keepNaNPayload: Bool = false) -> UInt64 {
        let bits = value.bitPattern
        let sign = bits >> 63 == 0 ? 0 : signBit
        let magnitude = bits & 0x7FFF_FFFF_FFFF_FFFF
        if magnitude >= 0x7FF0_0000_0000_0000 {
            if magnitude == 0x7FF0_0000_0000_0000 {
                return sign | (hasInfinity ? infinityCode : canonicalNaN)
            }
            if keepNaNPayload && hasInfinity {
                let payload = (magnitude & 0x000F_FFFF_FFFF_FFFF) >> UInt64(52 - mantissaBits)
                return sign | exponentAllOnes | max(payload, 1)
            }
            return sign | canonicalNaN
        }
        let biasedExponent = Int(magnitude >> 52)
        // A subnormal Double is below half the smallest subnormal of every format here.
        if biasedExponent == 0 { return sign }
        let exponent = biasedExponent - 1023
        let significand = (magnitude & 0x000F_FFFF_FFFF_FFFF) | (1 << 52)
        let minimumExponent = 1 - bias
        var code: UInt64
        let shift: Int
        if exponent >= minimumExponent {
            shift = 52 - mantissaBits
            // Exponent and mantissa side by side, so a carry out of the mantissa while
            // rounding moves to the next binade (or to the overflow code) by itself.
            code = (UInt64(exponent + bias) << UInt64(mantissaBits)) | ((significand & 0x000F_FFFF_FFFF_FFFF) >> UInt64(shift))
        } else {
            shift = 52 - mantissaBits + (minimumExponent - exponent)
            if shift > 63 { return sign }
            code = significand >> UInt64(shift)
        }
        let remainder = significand & ((1 << UInt64(shift)) - 1)
        let half: UInt64 = 1 << UInt64(shift - 1)
        if remainder > half || (remainder == half && code & 1 == 1) { code += 1 }
        if code > maxFiniteCode {
            return sign | (hasInfinity ? infinityCode : canonicalNaN)
        }
        return sign | code
    }

    /// The exact value of `code`. `keepNaNPayload` keeps the NaN's mantissa bits (NumPy's
    /// float16 -> float64 does); otherwise a NaN decodes to the quiet NaN with its sign.
    @inline(__always)
    public func decode(_ code: UInt64, keepNaNPayload: Bool = false) -> Double {
        let negative = code & signBit != 0
        let exponentField = (code & exponentAllOnes) >> UInt64(mantissaBits)
        let mantissa = code & mantissaMask
        let signBits: UInt64 = negative ? 1 << 63 : 0
        let isNaN = hasInfinity
            ? exponentField == (1 << UInt64(exponentBits)) - 1 && mantissa != 0
            : code & (signBit - 1) == signBit - 1
        if isNaN {
            let payload = keepNaNPayload ? mantissa << UInt64(52 - mantissaBits) : 1 << 51
            return Double(bitPattern: signBits | 0x7FF0_0000_0000_0000 | payload)
        }
        if hasInfinity && exponentField == (1 << UInt64(exponentBits)) - 1 {
            return negative ? -.infinity : .infinity
        }
        if exponentField == 0 {
            let magnitude = Double(mantissa) * Double(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
            return negative ? -magnitude : magnitude
        }
        let exponent = UInt64(Int(exponentField) - bias + 1023)
        return Double(bitPattern: signBits | exponent << 52 | mantissa << UInt64(52 - mantissaBits))
    }
}
