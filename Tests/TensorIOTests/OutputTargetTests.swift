// The output policy's parts (OutputTarget, OutputStaging, InputOverlap, SystemPath) called
// directly: what is refused, what an existing directory keeps, how paths round-trip bytes.

import Foundation
import Testing
@testable import TensorIO

@Suite struct OutputTargetTests {
    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loft-output-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func bytePathsRoundTrip() {
        let samples: [[UInt8]] = [
            Array("plain/ascii.safetensors".utf8), Array("ünïcode/☃.npz".utf8), [0x64, 0x69, 0x72, 0xFF, 0x2F, 0x6F],
            [0xC3], [0xE2, 0x98], [0xED, 0xA0, 0x80] /* a surrogate */, [0xC0, 0xAF] /* overlong */,
            [0xF4, 0x8F, 0xBE, 0x80] /* U+10FF80 itself: escaped byte by byte */, Array(0...255).map(UInt8.init),
        ]
        for bytes in samples {
            let path = SystemPath.decode(bytes)
            #expect(SystemPath.bytes(path) == bytes, "\(bytes)")
            #expect(SystemPath.cString(path).dropLast().map { UInt8(bitPattern: $0) } == bytes)
        }
        #expect(SystemPath.decode(Array("valid é".utf8)) == "valid é")
        #expect(SystemPath.display(SystemPath.decode([0x61, 0xFF, 0x62])) == #"a\xFFb"#)
    }

    @Test func absolutePathsResolveWhatExists() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let real = SystemPath.resolved(root)!
        try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/a")
        #expect(SystemPath.absolute(root + "/link/new/../x") == real + "/a/x")
        #expect(SystemPath.absolute(root + "/missing/./y/") == real + "/missing/y")
    }

    @Test func refusals() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let input = root + "/in.safetensors"
        _ = FileManager.default.createFile(atPath: input, contents: Data("x".utf8))
        try FileManager.default.linkItem(atPath: input, toPath: root + "/hard")
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root)
        _ = FileManager.default.createFile(atPath: root + "/other", contents: Data("y".utf8))

        #expect(throws: OutputError.emptyPath) { try OutputTarget("", kind: .file) }
        #expect(throws: OutputError.fileExists(path: root + "/other")) { try OutputTarget(root + "/other", kind: .file) }
        _ = try OutputTarget(root + "/other", kind: .file, overwrite: true)
        #expect(throws: OutputError.isADirectory(path: root)) { try OutputTarget(root, kind: .file, overwrite: true) }
        #expect(throws: OutputError.directoryNotEmpty(path: root)) { try OutputTarget(root, kind: .directory, inputs: []) }
        #expect(throws: OutputError.notADirectory(path: root + "/other", blocking: root + "/other")) { try OutputTarget(root + "/other", kind: .directory) }
        #expect(throws: OutputError.notADirectory(path: root + "/other/x", blocking: root + "/other")) { try OutputTarget(root + "/other/x", kind: .directory) }
        #expect(throws: OutputError.missingDirectory(path: root + "/no/x.npz", directory: root + "/no")) { try OutputTarget(root + "/no/x.npz", kind: .file) }

        let cases: [(String, OutputTarget.Kind, OutputError.Relation)] = [
            (input, .file, .isInput), (root + "/hard", .file, .isInput), (root + "/link/in.safetensors", .file, .isInput),
            (root, .directory, .containsInput), (root + "/link", .directory, .containsInput), (root + "/link/.", .directory, .containsInput),
            ("/", .directory, .containsInput),
        ]
        for (output, kind, relation) in cases {
            #expect(throws: OutputError.overlapsInput(path: output, input: input, relation: relation), "\(output)") {
                try OutputTarget(output, kind: kind, overwrite: true, inputs: [input])
            }
        }
        #expect(throws: OutputError.overlapsInput(path: root + "/link/sub/out", input: root, relation: .insideInput)) {
            try OutputTarget(root + "/link/sub/out", kind: .directory, overwrite: true, inputs: [root])
        }
        // Beside the input is fine.
        _ = try OutputTarget(root + "/out.safetensors", kind: .file, inputs: [input])
    }

    @Test func stagingIntoANewDirectory() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let target = try OutputTarget(root + "/deep/new", kind: .directory)
        let staging = try target.stage()
        #expect(TemporaryFiles.registeredPaths().contains(staging.path))
        try AtomicOutputFile.write("a", to: staging.file("a.json"))
        // Finished but not yet in place: still removed by a signal.
        #expect(TemporaryFiles.registeredPaths().contains(staging.file("a.json")))
        #expect(try staging.commit() == ["a.json"])
        #expect(!TemporaryFiles.registeredPaths().contains(staging.file("a.json")))
        #expect(!TemporaryFiles.registeredPaths().contains(staging.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/deep") == ["new"])
        let mode = (try FileManager.default.attributesOfItem(atPath: root + "/deep/new")[.posixPermissions] as! NSNumber).intValue
        #expect(mode == 0o777 & ~Int(AtomicOutputFile.creationMask))
    }

    @Test func stagingIntoAnExistingDirectoryReplacesOnlyItsFiles() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let out = root + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        chmod(out, 0o750)
        for name in ["keep.txt", "model.safetensors.index.json", "model-00001-of-00002.safetensors"] {
            _ = FileManager.default.createFile(atPath: out + "/" + name, contents: Data("old".utf8))
        }
        let staging = try OutputTarget(out, kind: .directory, overwrite: true).stage()
        try AtomicOutputFile.write("new", to: staging.file("model.safetensors"))
        try staging.commit(staleNames: ConversionOutput.isCheckpointFileName)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["keep.txt", "model.safetensors"])
        #expect(try String(contentsOfFile: out + "/keep.txt", encoding: .utf8) == "old")
        #expect((try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as! NSNumber).intValue == 0o750)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["out"])
    }

    @Test func anAbandonedStagingDirectoryIsRemoved() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var staging: OutputStaging? = try OutputTarget(root + "/made/out", kind: .directory).stage()
        let path = staging!.path
        try AtomicOutputFile.write("x", to: staging!.file("x"))
        staging = nil
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty, "the staging directory or its parent is left")
        #expect(!TemporaryFiles.registeredPaths().contains(path))
    }
}
