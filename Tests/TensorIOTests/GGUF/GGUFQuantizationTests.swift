// Every quantization loft writes or reads, against the references committed in fixtures/gguf
// (fixtures/generators/gguf_fixtures.py): gguf-py's quantizer and dequantizer byte for byte,
// ggml's own k-quant quantizer when the fixtures were made with llama.cpp installed.

import Foundation
import Testing
import TestSupport
@testable import TensorIO

enum GGUFFixtures {
    static func path(_ name: String) -> String { Repository.path("fixtures/gguf/" + name) }

    static func floats(_ name: String) throws -> [Float] {
        let reader = try TensorFile.open(path(name))
        let data = try reader.data(for: reader.tensors[0].name)
        return data.withElements(as: Float.self) { Array($0) }
    }

    static func namedFloats(_ reader: TensorReader, _ name: String) throws -> [Float] {
        try DTypeConversion.convert(reader.data(for: name), to: .F32).withElements(as: Float.self) { Array($0) }
    }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name)))) }

    static func quantize(_ values: [Float], _ type: GGMLType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: type.rowBytes(values.count)!)
        values.withUnsafeBufferPointer { source in out.withUnsafeMutableBytes { GGMLCodec.encode(source, as: type, into: $0) } }
        return out
    }

    static func dequantize(_ bytes: [UInt8], _ type: GGMLType) -> [Float] {
        let count = bytes.count / type.typeSize * type.blockSize
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { GGMLCodec.decode(raw, as: type, count: count, into: $0) } }
        return out
    }

    static func sameBits(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
}

@Suite struct GGUFQuantizationTests {
    @Test(arguments: [GGMLType.Q8_0, .Q4_0, .Q4_1, .Q5_0, .Q5_1])
    func blockQuantizationMatchesGGUFPy(type: GGMLType) throws {
        let input = try GGUFFixtures.floats("quant_input.npy")
        let expected = try GGUFFixtures.bytes("quant_\(type).bin")
        let ours = GGUFFixtures.quantize(input, type)
        let firstDifference = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(ours == expected, "\(type): first differing byte \(firstDifference.map(String.init) ?? "-")")
        let dequantized = try GGUFFixtures.floats("dequant_\(type).npy")
        #expect(GGUFFixtures.sameBits(GGUFFixtures.dequantize(expected, type), dequantized))
    }

    @Test(arguments: [GGMLType.Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K])
    func kQuantDequantizationMatchesGGUFPy(type: GGMLType) throws {
        let blocks = try GGUFFixtures.bytes("blocks_\(type).bin")
        let expected = try GGUFFixtures.floats("blocks_\(type).npy")
        #expect(GGUFFixtures.sameBits(GGUFFixtures.dequantize(blocks, type), expected))
    }

    /// ggml's quantize_row_q*_K_ref bytes are in the fixtures when they were generated with
    /// llama_cpp installed.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: GGUFFixtures.path("kquant_Q4_K.bin")), "fixtures made without llama_cpp's libggml"),
          arguments: [GGMLType.Q4_K, .Q5_K, .Q6_K])
    func kQuantizationMatchesGGML(type: GGMLType) throws {
        let input = try GGUFFixtures.floats("quant_input.npy")
        let expected = try GGUFFixtures.bytes("kquant_\(type).bin")
        let ours = GGUFFixtures.quantize(input, type)
        let firstDifference = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(ours == expected, "\(type): first differing byte \(firstDifference.map(String.init) ?? "-")")
    }

    /// Without the ggml bytes, the k-quants still must reconstruct the input closely.
    @Test(arguments: [(GGMLType.Q4_K, 0.12), (.Q5_K, 0.06), (.Q6_K, 0.03)])
    func kQuantizationRoundTripsClosely(type: GGMLType, tolerance: Double) throws {
        let input = try GGUFFixtures.floats("quant_input.npy")
        let row = Array(input[0..<512])
        let back = GGUFFixtures.dequantize(GGUFFixtures.quantize(row, type), type)
        let rms = (zip(row, back).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / 512).squareRoot()
        #expect(rms < tolerance, "\(type): rms error \(rms)")
    }

    @Test func halfRoundsLikeFloat16() {
        // Every exponent with several mantissas, the rounding ties, random bit patterns.
        var patterns: [UInt32] = [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFFC1_2345,
                                  0x477F_F000, 0x477F_EFFF, 0x477F_F001, 0x3880_0000, 0x387F_FFFF, 0x3300_0000, 0x3300_0001, 0x32FF_FFFF]
        for exponent in UInt32(0)..<256 {
            for mantissa: UInt32 in [0, 1, 0x0FFF, 0x1000, 0x1001, 0x2000, 0x3000, 0x5FFF, 0x6000, 0x7F_E000, 0x7F_F000, 0x7F_FFFF] {
                patterns += [exponent << 23 | mantissa, 0x8000_0000 | exponent << 23 | mantissa]
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            patterns.append(UInt32(truncatingIfNeeded: state >> 32))
        }
        for bits in patterns {
            let value = Float(bitPattern: bits)
            #expect(GGMLCodec.half(value) == Float16(value).bitPattern, "\(String(bits, radix: 16))")
        }
    }

    /// The vectorised Q8_0 block quantizer against the element-wise reference: random blocks
    /// at many scales, rounding ties (x * id landing on k + 0.5), 0.49999997, zeros,
    /// subnormals, infinities and NaN (which take the reference inside).
    @Test func q8_0MatchesTheElementWiseReference() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func random() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 11) / Float(1 << 52)
        }
        var blocks: [[Float]] = []
        for exponent in stride(from: -140, through: 120, by: 7) {
            for _ in 0..<40 { blocks.append((0..<32).map { _ in random() * Float(sign: .plus, exponent: exponent, significand: 1) }) }
        }
        // amax 127 makes id 1: every x is its own scaled value, so halves are exact ties.
        blocks.append([127] + (0..<31).map { Float($0) - 15.5 })
        blocks.append([-127, 0.49999997, -0.49999997, 0.5, -0.5, 1.5, -1.5, 126.5, -126.5] + [Float](repeating: 2.5, count: 23))
        blocks.append([Float](repeating: 0, count: 32))
        blocks.append([Float](repeating: -0.0, count: 32))
        blocks.append([Float.leastNonzeroMagnitude] + [Float](repeating: 0, count: 31))
        blocks.append([Float.leastNormalMagnitude / 100, -Float.leastNormalMagnitude / 400] + [Float](repeating: .leastNonzeroMagnitude * 700, count: 30))
        blocks.append([.infinity] + [Float](repeating: 1, count: 31))
        blocks.append([.nan, 3, -2] + [Float](repeating: 1, count: 29))
        blocks.append([.greatestFiniteMagnitude, -.greatestFiniteMagnitude] + [Float](repeating: 1e30, count: 30))
        for block in blocks {
            var fast = [UInt8](repeating: 0, count: 34), reference = fast
            block.withUnsafeBufferPointer { x in
                fast.withUnsafeMutableBytes { BlockQuantization.quantizeQ8_0(x.baseAddress!, $0.baseAddress!) }
                reference.withUnsafeMutableBytes { BlockQuantization.quantizeQ8_0Reference(x.baseAddress!, $0.baseAddress!) }
            }
            #expect(fast == reference, "\(block)")
        }
    }

    /// The encoders' vectorised loops give the scalar functions' bits element for element.
    @Test(arguments: [GGMLType.F16, .BF16])
    func halfWidthEncodingMatchesTheScalarFunctions(type: GGMLType) {
        var state: UInt64 = 7
        let values: [Float] = (0..<300_000).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let bits = UInt32(truncatingIfNeeded: state >> 32)
            return i % 3 == 0 ? Float(bitPattern: bits) : Float(bitPattern: bits & 0x8FFF_FFFF | 0x3000_0000)
        } + [.nan, -.nan, .infinity, -.infinity, 65520, 65519.996, 6e-8, 3e-8, 0, -0.0]
        let bytes = GGUFFixtures.quantize(values, type)
        for (i, value) in values.enumerated() {
            let stored = UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8
            let expected = type == .F16 ? GGMLCodec.half(value) : GGMLCodec.bfloat16(value)
            if stored != expected { Issue.record("\(type) \(value.bitPattern): \(stored) for \(expected)"); break }
        }
    }

    @Test func bfloat16RoundsLikeGGML() {
        #expect(GGMLCodec.bfloat16(1.0) == 0x3F80)
        #expect(GGMLCodec.bfloat16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even
        #expect(GGMLCodec.bfloat16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(GGMLCodec.bfloat16(.nan) & 0x7FC0 == 0x7FC0)
    }
}
