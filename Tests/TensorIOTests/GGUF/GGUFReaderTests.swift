// The GGUF reader on a file gguf-py wrote (every metadata type, several tensor types), loft's
// writer read back by loft, and the malformed corpus refused with one-line errors.

import Foundation
import Testing
import TestSupport
@testable import TensorIO

@Suite struct GGUFReaderTests {
    @Test func readsWhatGGUFPyWrote() throws {
        let reader = try TensorFile.open(GGUFFixtures.path("written_by_gguf.gguf"))
        let gguf = try #require(reader as? GGUFReader)
        #expect(gguf.format == "gguf")
        #expect(gguf.header.alignment == 64)
        let header = gguf.header
        #expect(header.value("general.architecture") == .string("llama"))
        #expect(header.value("test.u8") == .uint8(200))
        #expect(header.value("test.i8") == .int8(-100))
        #expect(header.value("test.u16") == .uint16(60000))
        #expect(header.value("test.i16") == .int16(-30000))
        #expect(header.value("test.u32") == .uint32(4_000_000_000))
        #expect(header.value("test.i32") == .int32(-2_000_000_000))
        #expect(header.value("test.f32") == .float32(1.5))
        #expect(header.value("test.bool") == .bool(true))
        #expect(header.value("test.string") == .string("héllo wörld"))
        #expect(header.value("test.u64") == .uint64(1 << 63 + 5))
        #expect(header.value("test.i64") == .int64(-(1 << 62)))
        #expect(header.value("test.f64") == .float64(-0.125))
        #expect(header.value("test.strings") == .strings(["a", "bc", ""]))
        #expect(header.value("test.nested")?.arrayValue?.count == 2)
        #expect(gguf.storageType(for: "q8_0") == "Q8_0")
        #expect(gguf.info(for: "f32")?.shape == [3, 5])
        #expect(gguf.info(for: "q4_k")?.dtype == .F32)
        let expected = try TensorFile.open(GGUFFixtures.path("written_by_gguf.npz"))
        for info in expected.tensors {
            let want = try GGUFFixtures.namedFloats(expected, info.name)
            let got = try GGUFFixtures.namedFloats(reader, info.name)
            #expect(GGUFFixtures.sameBits(got, want), "\(info.name)")
            #expect(reader.info(for: info.name)?.shape == info.shape, "\(info.name)")
        }
    }

    @Test func writerRoundTripsEveryWritableType() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let input = try GGUFFixtures.floats("quant_input.npy")
        let types: [GGMLType] = [.F32, .F16, .BF16, .Q8_0, .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q4_K, .Q5_K, .Q6_K]
        let plans = types.map { GGUFTensorPlan(name: "t.\($0)", shape: [16, 512], type: $0) }
        let metadata: [(key: String, value: GGUFValue)] = [("general.architecture", .string("test")), ("x.list", .int32s([1, 2, 3]))]
        let writer = try GGUFWriter(path: scratch.file("out.gguf"), metadata: metadata, tensors: plans)
        for _ in plans { try input.withUnsafeBufferPointer { try writer.write(values: $0) } }
        try writer.commit()
        let reader = try GGUFReader(path: scratch.file("out.gguf"))
        #expect(reader.header.value("x.list") == .int32s([1, 2, 3]))
        for type in types {
            let got = try GGUFFixtures.namedFloats(reader, "t.\(type)")
            let stored = [UInt8](try reader.storedData(for: "t.\(type)"))
            #expect(stored == GGUFFixtures.quantize(input, type), "\(type)")
            #expect(GGUFFixtures.sameBits(got, GGUFFixtures.dequantize(stored, type)) || type.readType != .F32, "\(type)")
        }
    }

    @Test func slicedWritesEqualWholeTensorWrites() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let input = try GGUFFixtures.floats("quant_input.npy")
        let types: [GGMLType] = [.F32, .F16, .BF16, .Q8_0, .Q4_K, .Q6_K]
        let plans = types.map { GGUFTensorPlan(name: "t.\($0)", shape: [16, 512], type: $0) }
        let whole = try GGUFWriter(path: scratch.file("whole.gguf"), metadata: [], tensors: plans)
        for _ in plans { try input.withUnsafeBufferPointer { try whole.write(values: $0) } }
        try whole.commit()
        // 700 elements a slice: cut inside rows and, for the k-quants, rounded to whole blocks.
        let sliced = try GGUFWriter(path: scratch.file("sliced.gguf"), metadata: [], tensors: plans)
        var ranges: [Range<Int>] = []
        for _ in plans {
            try sliced.write(sliceElements: 700) { range, scratch in
                ranges.append(range)
                for (i, j) in range.enumerated() { scratch[i] = input[j] }
                return UnsafeBufferPointer(scratch)
            }
        }
        try sliced.commit()
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("whole.gguf"))) == Data(contentsOf: URL(fileURLWithPath: scratch.file("sliced.gguf"))))
        #expect(ranges.count > 2 * types.count && ranges.allSatisfy { $0.count > 0 })
    }

    @Test func malformedFilesAreRefusedInOneLine() throws {
        let expectations = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: GGUFFixtures.path("hostile.json")))) as! [String: String]
        #expect(expectations.count >= 15)
        for (file, words) in expectations.sorted(by: { $0.key < $1.key }) {
            let path = GGUFFixtures.path("hostile/" + file)
            do {
                _ = try GGUFReader(path: path)
                Issue.record("\(file): accepted")
            } catch {
                let message = "\(error)"
                #expect(message.hasPrefix(path + ": "), "\(file): \(message)")
                #expect(message.contains(words), "\(file): \(message)")
                #expect(!message.contains("\n"), "\(file): \(message)")
            }
        }
    }

    @Test func everyTruncationOfAGoodFileIsRefused() throws {
        let bytes = try GGUFFixtures.bytes("written_by_gguf.gguf")
        // Up to the end of the last tensor's data (the padding after it is not needed).
        let header = try GGUFReader(path: GGUFFixtures.path("written_by_gguf.gguf")).header
        let end = header.dataStart + header.tensors.map { $0.offset + $0.byteCount }.max()!
        for length in stride(from: 0, to: end, by: 7) {
            let prefix = Array(bytes[0..<length])
            let refused = prefix.withUnsafeBytes { raw in (try? GGUFReader(path: "cut.gguf", bytes: raw, owner: nil)) == nil }
            #expect(refused, "accepted a truncation to \(length) bytes")
        }
    }
}

@Suite struct GGUFFormatTableTests {
    @Test func aGGUFFileOpensThroughTheFormatTable() throws {
        let reader = try ModelSource.open(Repository.path("fixtures/formats/tiny.gguf")).reader
        #expect(reader.format == "gguf")
        #expect(reader.tensors.map(\.shape) == [[2, 3]])
    }
}
