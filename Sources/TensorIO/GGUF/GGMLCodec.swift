// Whole tensors to and from ggml types: dequantize a stored tensor to float32 (read), and
// encode float32 values as any writable type (write). Blocks are independent, so both
// directions split the blocks over the cores (Compute's Parallel; encoding in small pieces
// the cores take as they come free, since it runs under every export).

import Compute

public enum GGMLCodec {
    typealias Quantize = (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void
    typealias Dequantize = (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void

    static func quantizer(_ type: GGMLType) -> Quantize? {
        switch type {
        case .Q8_0: return BlockQuantization.quantizeQ8_0
        case .Q4_0: return BlockQuantization.quantizeQ4_0
        case .Q4_1: return BlockQuantization.quantizeQ4_1
        case .Q5_0: return BlockQuantization.quantizeQ5_0
        case .Q5_1: return BlockQuantization.quantizeQ5_1
        case .Q4_K: return KQuantization.quantizeQ4_K
        case .Q5_K: return KQuantization.quantizeQ5_K
        case .Q6_K: return KQuantization.quantizeQ6_K
        default: return nil
        }
    }

    static func dequantizer(_ type: GGMLType) -> Dequantize? {
        switch type {
        case .Q8_0: return BlockQuantization.dequantizeQ8_0
        case .Q4_0: return BlockQuantization.dequantizeQ4_0
        case .Q4_1: return BlockQuantization.dequantizeQ4_1
        case .Q5_0: return BlockQuantization.dequantizeQ5_0
        case .Q5_1: return BlockQuantization.dequantizeQ5_1
        case .Q2_K: return KQuantization.dequantizeQ2_K
        case .Q3_K: return KQuantization.dequantizeQ3_K
        case .Q4_K: return KQuantization.dequantizeQ4_K
        case .Q5_K: return KQuantization.dequantizeQ5_K
        case .Q6_K: return KQuantization.dequantizeQ6_K
        default: return nil
        }
    }

    /// Elements per piece of work handed to a core (Parallel.forEachPiece): small enough that
    /// a core the scheduler leaves waiting holds up little, large enough to cost nothing.
    static let encodePiece = 1 << 16

    /// Encodes `values` as `type` into `out` (exactly `type.rowBytes(values.count)` bytes).
    /// F32/F16/BF16 round like ggml (nearest even; BF16 keeps NaN quiet).
    public static func encode(_ values: UnsafeBufferPointer<Float>, as type: GGMLType, into out: UnsafeMutableRawBufferPointer) {
        let count = values.count
        precondition(type.rowBytes(count) == out.count, "GGMLCodec.encode: \(out.count) bytes for \(count) x \(type)")
        guard let source = values.baseAddress, let target = out.baseAddress else { return }
        switch type {
        case .F32:
            target.copyMemory(from: source, byteCount: 4 * count)
        case .F16:
            // Typed stores at plain indices: the loop the compiler vectorises (byte offsets
            // computed with overflow checks keep it scalar, 4x slower). x86-64 is little-endian.
            let halves = target.bindMemory(to: UInt16.self, capacity: count)
            Parallel.forEachPiece(count: count, pieceSize: encodePiece) { range in
                for i in range { halves[i] = half(source[i]) }
            }
        case .BF16:
            let halves = target.bindMemory(to: UInt16.self, capacity: count)
            Parallel.forEachPiece(count: count, pieceSize: encodePiece) { range in
                for i in range { halves[i] = bfloat16(source[i]) }
            }
        default:
            guard let quantize = quantizer(type) else { preconditionFailure("GGMLCodec.encode: \(type) is not writable") }
            let blocks = count / type.blockSize
            Parallel.forEachPiece(count: blocks, pieceSize: max(1, encodePiece / type.blockSize)) { range in
                for b in range { quantize(source + b * type.blockSize, target + b * type.typeSize) }
            }
        }
    }

    /// float32 to IEEE half, rounded to nearest even: the bits `Float16(value)` gives (and F16C
    /// and NumPy), without the library call Swift makes for it on x86-64, which took 40% of an
    /// f16 export. Every case is computed and one selected (no branch), so the encoding loops
    /// vectorise. Finite values: the exponent rebiased with the rounding carried in by integer
    /// adds; subnormal results: an add of 0.5 lets the FPU round the mantissa; NaN: quiet,
    /// with the top of the payload (Float16's rule).
    @inline(__always) static func half(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = (bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        let normal = (magnitude &+ 0xC800_0FFF &+ ((magnitude >> 13) & 1)) >> 13
        let subnormal = (Float(bitPattern: magnitude) + 0.5).bitPattern &- 0x3F00_0000
        let nan = 0x7E00 | ((magnitude & 0x3F_FFFF) >> 13)
        let large = magnitude > 0x7F80_0000 ? nan : 0x7C00       // 65536 and up: infinity, or NaN
        let small = magnitude < 0x3880_0000 ? subnormal : normal  // below 2^-14: a subnormal half or zero
        return UInt16(truncatingIfNeeded: sign | (magnitude >= 0x4780_0000 ? large : small))
    }

    /// ggml's `ggml_compute_fp32_to_bf16`: NaN stays a quiet NaN, the rest rounds to nearest
    /// even (selected without a branch, as `half`).
    @inline(__always) static func bfloat16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let nan = (bits >> 16) | 64
        let rounded = UInt32(truncatingIfNeeded: (UInt64(bits) &+ UInt64(0x7FFF &+ ((bits >> 16) & 1))) >> 16)
        return UInt16(truncatingIfNeeded: bits & 0x7FFF_FFFF > 0x7F80_0000 ? nan : rounded)
    }

    /// Dequantizes `count` elements of a quantized `type` from `bytes` into `out`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, as type: GGMLType, count: Int, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(type.rowBytes(count) == bytes.count && out.count == count, "GGMLCodec.decode: sizes")
        guard let source = bytes.baseAddress, let target = out.baseAddress else { return }
        switch type {
        case .F32:
            UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: 4 * count)
        case .F16:
            Parallel.forEachRange(count: count) { range in
                for i in range { target[i] = Float(Float16(bitPattern: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            }
        case .BF16:
            Parallel.forEachRange(count: count) { range in
                for i in range { target[i] = Float(bitPattern: UInt32(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            }
        default:
            guard let dequantize = dequantizer(type) else { preconditionFailure("GGMLCodec.decode: \(type) is not a float type") }
            let blocks = count / type.blockSize
            Parallel.forEachRange(count: blocks, minimumChunk: max(1, 16384 / type.blockSize)) { range in
                for b in range { dequantize(source + b * type.typeSize, target + b * type.blockSize) }
            }
        }
    }
}
