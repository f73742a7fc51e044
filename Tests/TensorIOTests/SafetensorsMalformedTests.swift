// The malformed-input corpus: one file per reader rule (fixtures/safetensors/malformed/),
// each with the error the Python reference gives for it, recorded by the generator. loft must
// give the same error, except where it is deliberately stricter (duplicate keys), and must
// accept what the reference accepts.

import Foundation
import Testing
@testable import TensorIO

@Suite struct SafetensorsMalformedTests {
    static let verdicts: [JSONMember] = try! JSON.parse(
        String(decoding: SafetensorsFixtures.bytes("malformed/expected.json"), as: UTF8.self)).objectMembers!
    static let files = verdicts.map(\.key)

    @Test(arguments: files)
    func givesTheReferencesError(file: String) throws {
        let verdict = Self.verdicts.first { $0.key == file }!.value
        let expected = verdict["loft"]!.stringValue!
        let path = SafetensorsFixtures.path("malformed/\(file)")
        do {
            let reader = try SafetensorsReader(path: path)
            #expect(expected == "ok", "\(file): accepted, expected \(expected)")
            // Whatever is accepted must also be fully readable.
            for tensor in reader.tensors { #expect(try reader.data(for: tensor.name).bytes.count == tensor.byteCount) }
        } catch let error as SafetensorsError {
            #expect(error.referenceName == expected, "\(file): \(error)")
            #expect(error.description.hasPrefix(path), "the message names the file")
        }
    }

    @Test func corpusIsTiedToTheReference() {
        // Every file agrees with the reference except the documented stricter cases.
        for member in Self.verdicts {
            let reference = member.value["reference"]!.stringValue!
            let loft = member.value["loft"]!.stringValue!
            if loft == "DuplicateKey" { #expect(reference == "ok") } else { #expect(reference == loft, "\(member.key)") }
        }
        let rules = Set(Self.verdicts.map { $0.value["loft"]!.stringValue! })
        #expect(rules == ["HeaderTooSmall", "HeaderTooLarge", "InvalidHeaderLength", "InvalidHeader",
                          "InvalidHeaderDeserialization", "DuplicateKey", "InvalidOffset", "ValidationOverflow",
                          "MisalignedSlice", "TensorInvalidInfo", "MetadataIncompleteBuffer", "ok"])
    }

    @Test func errorsNameTheTensor() throws {
        let path = SafetensorsFixtures.path("malformed/size_mismatch.safetensors")
        #expect(throws: SafetensorsError.tensorInvalidInfo(path: path, tensor: "a", expectedBytes: 8, declaredBytes: 4)) {
            try SafetensorsReader(path: path)
        }
        let overlap = SafetensorsFixtures.path("malformed/offsets_overlap.safetensors")
        #expect(throws: SafetensorsError.invalidOffset(path: overlap, tensor: "b", reason: "begin 4 overlaps the previous tensor, which ends at 8")) {
            try SafetensorsReader(path: overlap)
        }
        let duplicate = SafetensorsFixtures.path("malformed/duplicate_tensor_name.safetensors")
        #expect(throws: SafetensorsError.duplicateKey(path: duplicate, key: "a")) { try SafetensorsReader(path: duplicate) }
        let missing = SafetensorsFixtures.path("malformed/missing_shape.safetensors")
        do {
            _ = try SafetensorsReader(path: missing)
            Issue.record("accepted")
        } catch let SafetensorsError.invalidHeaderDeserialization(_, tensor, reason) {
            #expect(tensor == "a")
            #expect(reason.contains("shape"))
        }
    }

    @Test func everyTruncationOfAValidFileIsRejected() throws {
        // Beyond the corpus's chosen cuts: every prefix of a real file.
        let whole = try SafetensorsFixtures.bytes("metadata_one_key.safetensors")
        for cut in 0..<whole.count {
            let prefix = Array(whole[..<cut])
            #expect(throws: SafetensorsError.self, "cut at \(cut)") {
                try prefix.withUnsafeBytes { _ = try SafetensorsHeader.parse($0, path: "mem") }
            }
        }
        #expect(throws: Never.self) { try whole.withUnsafeBytes { _ = try SafetensorsHeader.parse($0, path: "mem") } }
    }

    @Test func hugeHeaderLengthAllocatesNothing() throws {
        // N = 2^64 - 1 with 8 bytes of file: rejected before anything is read or allocated.
        let bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: SafetensorsError.headerTooLarge(path: "mem", declared: UInt64.max)) {
            try bytes.withUnsafeBytes { _ = try SafetensorsHeader.parse($0, path: "mem") }
        }
    }
}
