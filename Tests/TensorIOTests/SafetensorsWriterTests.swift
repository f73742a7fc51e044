// The writer: reference order, streaming one tensor at a time, refusals, and atomicity.

import Foundation
import Testing
@testable import TensorIO

@Suite struct SafetensorsWriterTests {
    @Test func sortsByDTypeDescendingThenNameBytes() {
        let infos = [
            TensorInfo(name: "b", dtype: .F32, shape: [1]), TensorInfo(name: "a", dtype: .F32, shape: [1]),
            TensorInfo(name: "z", dtype: .BOOL, shape: [1]), TensorInfo(name: "y", dtype: .U64, shape: [1]),
            TensorInfo(name: "é", dtype: .F32, shape: [1]), TensorInfo(name: "Z", dtype: .F32, shape: [1]),
        ]
        // U64 is last in the reference's list, so first; BOOL last. Names by UTF-8 bytes.
        #expect(SafetensorsWriter.writeOrder(infos).map(\.name) == ["y", "Z", "a", "b", "é", "z"])
    }

    @Test func headerMatchesTheReferencesExample() {
        // safetensors' own test_serialization: attn.0, F32 [1, 2, 3], 64-byte header.
        let header = SafetensorsWriter.header(orderedTensors: [TensorInfo(name: "attn.0", dtype: .F32, shape: [1, 2, 3])], metadata: [])
        #expect(header.count == 8 + 64)
        #expect(String(decoding: header[8...], as: UTF8.self)
            == #"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#)
    }

    @Test func callsDataOnceEachInWriteOrder() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let tensors = [f32Tensor("w", [1, 2]), tensorData(TensorInfo(name: "i", dtype: .I64, shape: [1]), [7, 0, 0, 0, 0, 0, 0, 0])]
        var asked: [String] = []
        try SafetensorsWriter.write(to: scratch.file("s.safetensors"), tensors: tensors.map(\.info), metadata: [("k", "v")]) { info in
            asked.append(info.name)
            return tensors.first { $0.info.name == info.name }!
        }
        #expect(asked == ["i", "w"])
        let reader = try SafetensorsReader(path: scratch.file("s.safetensors"))
        #expect(reader.metadata.map(\.key) == ["k"])
        #expect(Array(try reader.data(for: "w").bytes) == [Float(1), 2].withUnsafeBytes { Array($0) })
    }

    @Test func refusesReservedNameC128AndDuplicates() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("x.safetensors")
        #expect(throws: SafetensorsError.reservedName(path: path, tensor: "__metadata__")) {
            try SafetensorsWriter.write(to: path, tensors: [f32Tensor("__metadata__", [1])])
        }
        let complex = tensorData(TensorInfo(name: "c", dtype: .C128, shape: [1]), [UInt8](repeating: 0, count: 16))
        #expect(throws: SafetensorsError.unsupportedDType(path: path, tensor: "c", dtype: .C128)) {
            try SafetensorsWriter.write(to: path, tensors: [complex])
        }
        #expect(throws: SafetensorsError.duplicateTensor(path: path, tensor: "a")) {
            try SafetensorsWriter.write(to: path, tensors: [TensorInfo(name: "a", dtype: .F32, shape: [1]), TensorInfo(name: "a", dtype: .F32, shape: [1])], metadata: []) { _ in f32Tensor("a", [1]) }
        }
        #expect(scratch.contents().isEmpty)
    }

    @Test func subByteTensorsMustFillWholeBytes() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("x.safetensors")
        let odd = TensorInfo(name: "q", dtype: .F4, shape: [3])
        #expect(throws: SafetensorsError.misalignedSlice(path: path, tensor: "q", bits: 12)) {
            try SafetensorsWriter.write(to: path, tensors: [odd], metadata: []) { _ in tensorData(odd, [0, 0]) }
        }
        let even = TensorInfo(name: "q", dtype: .F6_E3M2, shape: [4])
        try SafetensorsWriter.write(to: path, tensors: [tensorData(even, [1, 2, 3])])
        // Keep the reader (and so the mapping) alive while reading the view.
        let reader = try SafetensorsReader(path: path)
        #expect(Array(try reader.data(for: "q").bytes) == [1, 2, 3])
    }

    @Test func nothingIsLeftWhenDataFails() throws {
        struct Boom: Error {}
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("x.safetensors")
        #expect(throws: Boom.self) {
            try SafetensorsWriter.write(to: path, tensors: [TensorInfo(name: "a", dtype: .F32, shape: [1]), TensorInfo(name: "b", dtype: .F32, shape: [1])], metadata: []) { info in
                if info.name == "b" { throw Boom() }
                return f32Tensor("a", [1])
            }
        }
        #expect(scratch.contents().isEmpty, "no file and no temporary file")
    }

    @Test func previousFileSurvivesAFailedOverwrite() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("x.safetensors")
        try SafetensorsWriter.write(to: path, tensors: [f32Tensor("a", [1])])
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: SafetensorsError.self) {
            try SafetensorsWriter.write(to: path, tensors: [TensorInfo(name: "a", dtype: .F32, shape: [2])], metadata: []) { _ in f32Tensor("a", [1]) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(scratch.contents() == ["x.safetensors"])
    }

    @Test func wrongSizedDataIsRefused() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("x.safetensors")
        #expect(throws: SafetensorsError.dataMismatch(path: path, tensor: "a", reason: "expected F32 [2] (8 bytes), got F32 [1] (4 bytes)")) {
            try SafetensorsWriter.write(to: path, tensors: [TensorInfo(name: "a", dtype: .F32, shape: [2])], metadata: []) { _ in f32Tensor("a", [1]) }
        }
    }

    @Test func headerEscapingMatchesSerdeAndJSONSerialize() throws {
        // serde_json's bytes for these names come from the names_unicode fixture; json-c's
        // compact form agrees for every name without a NUL (json-c object keys are C strings).
        let names = ["é", "日本語.weight", "emoji😀", "quote\"back\\slash/ctrl\u{01}\u{1f}\u{7f}", "", "tab\tnew\nline\u{2028}", "\u{08}\u{0C}\r"]
        for name in names {
            var ours: [UInt8] = []
            SerdeJSON.appendString(name, to: &ours)
            let jsonC = JSON.serialize(.object([JSONMember(name, .integer(1))]), style: .compact)
            #expect(Array(jsonC.utf8) == [UInt8(ascii: "{")] + ours + Array(":1}".utf8), "\(name.debugDescription)")
        }
        var nul: [UInt8] = []
        SerdeJSON.appendString("a\u{0}", to: &nul)
        #expect(String(decoding: nul, as: UTF8.self) == #""a\u0000""#)
    }
}
