// MLX's affine quantization against mlx itself (fixtures/mlx, made by
// fixtures/generators/mlx_fixtures.py with mx.quantize / mx.dequantize): loft's packed
// weights, scales and biases equal mlx's byte for byte, and its dequantization equals
// mx.dequantize, for every width 2 ... 8, group sizes 32, 64, 128 and float32, float16,
// bfloat16 weights (edge cases included: constant groups, zeros, one-signed ramps, huge and
// tiny magnitudes).

import Foundation
import Testing
import TestSupport
@testable import TensorIO

enum MLXFixtures {
    static func path(_ name: String) -> String { Repository.path("fixtures/mlx/" + name) }

    /// quant_<dt>_b<B>_g<G>.safetensors of the fixture folder, with their parameters.
    static var quantFiles: [(name: String, dtype: DType, parameters: MLXAffine)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path(""))) ?? []
        return names.filter { $0.hasPrefix("quant_") && $0.hasSuffix(".safetensors") }.sorted().compactMap { name in
            let parts = name.dropLast(".safetensors".count).split(separator: "_")
            guard parts.count == 4, let bits = Int(parts[2].dropFirst()), let group = Int(parts[3].dropFirst()),
                  let dtype = ["f32": DType.F32, "f16": .F16, "bf16": .BF16][String(parts[1])] else { return nil }
            return (name, dtype, MLXAffine(bits: bits, groupSize: group))
        }
    }

    static func bytes(_ data: TensorData) -> [UInt8] { withExtendedLifetime(data) { Array(data.bytes) } }
}

@Suite struct MLXAffineTests {
    @Test func fixturesCoverEveryWidthAndType() {
        let files = MLXFixtures.quantFiles
        #expect(Set(files.map(\.parameters.bits)) == [2, 3, 4, 5, 6, 8])
        #expect(Set(files.map(\.parameters.groupSize)) == [32, 64, 128])
        #expect(Set(files.map(\.dtype)) == [.F32, .F16, .BF16])
    }

    @Test func dequantizationEqualsMX() throws {
        for file in MLXFixtures.quantFiles {
            let reader = try TensorFile.open(MLXFixtures.path(file.name))
            let expected = try reader.data(for: "dequantized")
            let dense = TensorInfo(name: "w", dtype: file.dtype, shape: expected.info.shape)
            let scales = try DTypeConversion.convert(reader.data(for: "scales"), to: .F32)
            let biases = try DTypeConversion.convert(reader.data(for: "biases"), to: .F32)
            let result = try MLXQuantizedReader.dequantize(packed: reader.data(for: "weight"), scales: scales, biases: biases,
                                                           parameters: file.parameters, as: dense)
            #expect(result.info.dtype == file.dtype)
            #expect(MLXFixtures.bytes(result) == MLXFixtures.bytes(expected), "\(file.name)")
        }
    }

    @Test func quantizationEqualsMX() throws {
        let input = try TensorFile.open(MLXFixtures.path("quant_input.npy"))
        let values = try input.data(for: input.tensors[0].name)
        for file in MLXFixtures.quantFiles {
            let reader = try TensorFile.open(MLXFixtures.path(file.name))
            let weight = try DTypeConversion.convert(values, to: file.dtype)
            let named = TensorData(info: weight.info.renamed("m.weight"), bytes: weight.bytes, owner: weight.owner)
            #expect(file.parameters.quantizes(named.info))
            let result = try file.parameters.quantize(named)
            #expect(result.weight.info.shape == (try reader.data(for: "weight")).info.shape)
            #expect(result.scales.info.name == "m.scales" && result.biases.info.name == "m.biases")
            for (mine, theirs) in [(result.weight, "weight"), (result.scales, "scales"), (result.biases, "biases")] {
                #expect(MLXFixtures.bytes(mine) == MLXFixtures.bytes(try reader.data(for: theirs)), "\(file.name): \(theirs)")
            }
        }
    }

    @Test func whichTensorsAreQuantized() {
        let q = MLXAffine(bits: 4, groupSize: 64)
        #expect(q.quantizes(TensorInfo(name: "a.weight", dtype: .F16, shape: [8, 128])))
        #expect(!q.quantizes(TensorInfo(name: "a.weight", dtype: .F16, shape: [8, 96])))   // rows do not divide
        #expect(!q.quantizes(TensorInfo(name: "norm.weight", dtype: .F32, shape: [128])))  // rank 1
        #expect(!q.quantizes(TensorInfo(name: "a.bias", dtype: .F32, shape: [8, 128])))
        #expect(!q.quantizes(TensorInfo(name: "ids.weight", dtype: .I64, shape: [8, 128])))
        #expect(!q.quantizes(TensorInfo(name: "conv.weight", dtype: .F32, shape: [8, 3, 128])))
    }
}

@Suite struct MLXQuantizationConfigTests {
    func parse(_ text: String) throws -> MLXQuantizationConfig? {
        try MLXQuantizationConfig.from(config: try JSON.parse(text))
    }

    @Test func readsDefaultsAndPerModuleEntries() throws {
        let config = try #require(try parse(#"{"quantization": {"group_size": 32, "bits": 4, "mode": "affine", "m.down": {"group_size": 64, "bits": 8}}}"#))
        #expect(config.defaults == MLXAffine(bits: 4, groupSize: 32))
        #expect(config.parameters(for: "m.down") == MLXAffine(bits: 8, groupSize: 64))
        #expect(config.parameters(for: "m.up") == MLXAffine(bits: 4, groupSize: 32))
        // The Hugging Face copy alone, and other libraries' entries (ignored).
        #expect(try parse(#"{"quantization_config": {"group_size": 64, "bits": 8}}"#)?.defaults == MLXAffine(bits: 8, groupSize: 64))
        #expect(try parse(#"{"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}}"#) == nil)
        #expect(try parse(#"{"model_type": "llama"}"#) == nil)
    }

    @Test func refusesWhatMLXDoesNotWrite() {
        for (text, words) in [
            (#"{"quantization": {"group_size": 64, "bits": 7}}"#, "bits 7 is not one of"),
            (#"{"quantization": {"group_size": 64, "bits": 16}}"#, "bits 16"),
            (#"{"quantization": {"group_size": 0, "bits": 4}}"#, "group_size 0"),
            (#"{"quantization": {"group_size": 32, "bits": 4, "mode": "mxfp4"}}"#, "mode \"mxfp4\" is not supported"),
            (#"{"quantization": {"bits": 4}}"#, "has no group_size"),
            (#"{"quantization": {"group_size": "64", "bits": 4}}"#, "group_size is not an integer"),
            (#"{"quantization": {"group_size": 64, "bits": 4, "m.x": {"bits": 9}}}"#, "quantization.m.x.bits 9"),
            (#"{"quantization": 4}"#, "is not an object"),
        ] {
            #expect {
                _ = try parse(text)
            } throws: { error in
                "\(error)".contains(words) && !"\(error)".contains("\n")
            }
        }
    }
}

@Suite struct MLXHalfRoundingTests {
    /// The shortcut equals Float16's own rounding on every float32 pattern of a sweep that
    /// crosses the subnormal, normal and overflow boundaries and the ties.
    @Test func roundToHalfEqualsFloat16() {
        var pattern: UInt32 = 0
        while pattern < 0xFF80_0000 {
            for offset: UInt32 in [0, 0xFFF, 0x1000, 0x1001, 0x2000, 0x3000] {
                let x = Float(bitPattern: pattern &+ offset)
                let expected = Float(Float16(x))
                let got = MLXAffine.roundToHalf(x)
                if !(got.bitPattern == expected.bitPattern || (got.isNaN && expected.isNaN)) {
                    Issue.record("\(x): \(got) != \(expected)")
                    return
                }
            }
            pattern &+= 0x0001_3579
        }
    }
}

@Suite struct MLXGroupRangeTests {
    /// The vectorised group minimum and maximum equal mlx's comparisons (numerically: -0 and
    /// +0 may swap) on random groups at many scales, with infinities and signed zeros, and
    /// report NaN when one is in the group.
    @Test func rangeEqualsTheComparisonLoop() {
        var state: UInt64 = 99
        func random() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 11) / Float(1 << 52)
        }
        var groups: [[Float]] = (0..<2000).map { i in (0..<64).map { _ in random() * Float(sign: .plus, exponent: i % 200 - 100, significand: 1) } }
        groups.append([-0.0, 0.0] + [Float](repeating: -0.0, count: 62))
        groups.append([.infinity, -.infinity] + [Float](repeating: 1, count: 62))
        groups.append((0..<64).map { -Float($0) - 1 })
        for group in groups {
            var low = Float.infinity, high = -Float.infinity
            for x in group {
                high = high < x ? x : high
                low = x < low ? x : low
            }
            let range = group.withUnsafeBufferPointer { MLXAffine.range($0.baseAddress!, 64) }
            #expect(range.low == low && range.high == high, "\(group.prefix(4))")
        }
        let withNaN = [Float](repeating: 1, count: 63) + [.nan]
        #expect(withNaN.withUnsafeBufferPointer { MLXAffine.range($0.baseAddress!, 64) }.low.isNaN)
    }
}
