// float64 <-> BF16 / F16 for the merge's inner loop, on both cores.
//
// DTypeConversion has vectorised kernels between F32 and the half types, but F64 <-> half
// goes through its generic per-element path, which made a bf16 merge three times slower
// than an f32 one. These loops give the same results (AdaptersTests compare them with
// DTypeConversion on edge cases and random bit patterns):
//   BF16, F16 -> F64 are exact widenings;
//   F64 -> F16 is Swift's Float16(Double), a single correctly rounded conversion;
//   F64 -> BF16 rounds the float64 bits directly (normal range); elsewhere it rounds to
//   float32 with round-to-odd, then to bf16 to nearest even. Round-to-odd with 16 spare bits
//   cannot create a false tie, so both give the correctly rounded f64 -> bf16 (plain Float(x)
//   first would round twice and miss ties).
// Other dtypes fall back to DTypeConversion.

import Compute


public enum HalfWidening {
    static let chunk = 1 << 15

    public static func widen(_ type: DType, from source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Double>) throws {
        let count = destination.count
        switch type {
        case .BF16:
            Parallel.forEachRange(count: count, minimumChunk: chunk) { range in
                for i in range {
                    let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    destination[i] = Double(Float(bitPattern: UInt32(bits) << 16))
                }
            }
        case .F16:
            Parallel.forEachRange(count: count, minimumChunk: chunk) { range in
                for i in range {
                    destination[i] = Double(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            }
        default:
            try DTypeConversion.convert(from: type, source: source, to: .F64, destination: UnsafeMutableRawBufferPointer(destination), count: count)
        }
    }

    public static func narrow(_ source: UnsafeBufferPointer<Double>, to type: DType, into destination: UnsafeMutableRawBufferPointer) throws {
        let count = source.count
        switch type {
        case .BF16:
            Parallel.forEachRange(count: count, minimumChunk: chunk) { range in
                for i in range { destination.storeBytes(of: bf16Bits(source[i]), toByteOffset: 2 * i, as: UInt16.self) }
            }
        case .F16:
            Parallel.forEachRange(count: count, minimumChunk: chunk) { range in
                for i in range { destination.storeBytes(of: Float16(source[i]).bitPattern, toByteOffset: 2 * i, as: UInt16.self) }
            }
        default:
            try DTypeConversion.convert(from: .F64, source: UnsafeRawBufferPointer(source), to: type, destination: destination, count: count)
        }
    }

    @inline(__always)
    static func bf16Bits(_ x: Double) -> UInt16 {
        // Normal bf16 results (the common case): round the float64 bits at bf16's last
        // fraction bit (bit 45), to nearest even; a carry moves into the exponent as it should.
        let bits = x.bitPattern
        let exponent = (bits >> 52) & 0x7FF
        if exponent >= 1023 - 126 && exponent <= 1023 + 127 {
            let rounded = bits &+ (1 << 44) &- 1 &+ ((bits >> 45) & 1)
            let roundedExponent = (rounded >> 52) & 0x7FF
            let sign = UInt16(truncatingIfNeeded: bits >> 48) & 0x8000
            if roundedExponent > 1023 + 127 { return sign | 0x7F80 }
            return sign | UInt16(truncatingIfNeeded: ((roundedExponent - 896) << 7) | ((rounded >> 45) & 0x7F))
        }
        return bf16BitsRare(x)
    }

    /// Zero, subnormal, overflowing and non-finite inputs.
    static func bf16BitsRare(_ x: Double) -> UInt16 {
        if x.isNaN { return x.sign == .minus ? 0xFFC0 : 0x7FC0 }
        var single = Float(x)
        if Double(single) != x && single.isFinite || (single.isInfinite && x.isFinite) {
            // Round to odd: truncate toward zero, then set the last bit (the "sticky" bit).
            if abs(Double(single)) > abs(x) { single = single.nextDown.magnitude < single.magnitude ? single.nextDown : single.nextUp }
            single = Float(bitPattern: single.bitPattern | 1)
        }
        let bits = single.bitPattern
        return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }
}
