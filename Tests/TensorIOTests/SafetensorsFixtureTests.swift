// Every file the reference wrote (fixtures/generators/safetensors.py) reads back with the
// dtype, shape and bytes numpy gave it, and writing the same tensors and metadata again
// gives the reference's file byte for byte.

import Foundation
import Testing
@testable import TensorIO

@Suite struct SafetensorsFixtureTests {
    static let files: [String] = SafetensorsFixtures.expected["files"]!.objectMembers!.map(\.key)

    @Test(arguments: files)
    func readsTensorsAsTheReferenceWroteThem(file: String) throws {
        let expected = SafetensorsFixtures.expected["files"]![file]!
        let reader = try SafetensorsReader(path: SafetensorsFixtures.path(file))
        let tensors = expected["tensors"]!.arrayValue!
        #expect(reader.tensors.map { Array($0.name.utf8) } == tensors.map { Array($0["name"]!.stringValue!.utf8) })
        for (info, want) in zip(reader.tensors, tensors) {
            #expect(info.dtype.rawValue == want["dtype"]!.stringValue!)
            #expect(info.shape == want["shape"]!.arrayValue!.map { $0.intValue! })
            let data = try reader.data(for: info.name)
            #expect(Array(data.bytes) == SafetensorsFixtures.hex(want["hex"]!.stringValue!), "\(file): \(info.name)")
            #expect(data.owner is MappedFile, "tensors are views into the mapping")
        }
        let metadata = expected["metadata"]!.arrayValue?.map { ($0.arrayValue![0].stringValue!, $0.arrayValue![1].stringValue!) } ?? []
        #expect(reader.metadata.map(\.key) == metadata.map(\.0))
        #expect(reader.metadata.map(\.value) == metadata.map(\.1))
    }

    @Test(arguments: files)
    func rewriteIsByteIdenticalToSaveFile(file: String) throws {
        guard SafetensorsFixtures.expected["files"]![file]!["byte_identical"] == .bool(true) else { return }
        let reader = try SafetensorsReader(path: SafetensorsFixtures.path(file))
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let output = scratch.file("out.safetensors")
        // Hand the tensors over in reverse to show the writer imposes the reference's order.
        try SafetensorsWriter.write(to: output, tensors: reader.tensors.reversed(), metadata: reader.metadata) {
            try reader.data(for: $0.name)
        }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: output))) == (try SafetensorsFixtures.bytes(file)))
    }

    @Test func everyDTypeHasAFixture() {
        let dtypeFiles = Set(Self.files.filter { $0.hasPrefix("dtypes/") })
        #expect(dtypeFiles == Set(DType.safetensorsTypes.map { "dtypes/\($0.rawValue).safetensors" }))
    }

    @Test func emptyFileHasTheDocumentedBytes() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try SafetensorsWriter.write(to: scratch.file("e.safetensors"), tensors: [TensorData](), metadata: [])
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: scratch.file("e.safetensors"))))
            == [8, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D] + [UInt8](repeating: 0x20, count: 6))
    }

    @Test func emptyMetadataObjectReadsAsNoMetadata() throws {
        // The reference writes "__metadata__":{} for metadata={}; loft's empty list writes none.
        let reader = try SafetensorsReader(path: SafetensorsFixtures.path("metadata_empty.safetensors"))
        #expect(reader.metadata.isEmpty)
        #expect(reader.tensors.map(\.name) == ["w"])
    }

    @Test func releaseKeepsTheTensorReadable() throws {
        let reader = try SafetensorsReader(path: SafetensorsFixtures.path("metadata_one_key.safetensors"))
        let before = Array(try reader.data(for: "w").bytes)
        reader.release("w")
        reader.release("no such tensor")
        #expect(Array(try reader.data(for: "w").bytes) == before)
    }

    @Test func unknownTensorNameIsAnError() throws {
        let path = SafetensorsFixtures.path("scalars.safetensors")
        let reader = try SafetensorsReader(path: path)
        #expect(throws: SafetensorsError.tensorNotFound(path: path, tensor: "nope")) { try reader.data(for: "nope") }
    }
}
