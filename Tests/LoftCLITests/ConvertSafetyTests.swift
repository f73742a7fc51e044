// What convert never does: write over its input (by path, symlink, hard link or shard
// directory, even with --overwrite), or leave anything at the output path when it fails.

import Foundation
import Testing
import TensorIO

@Suite struct ConvertSafetyTests {
    func copyOfSmall(in scratch: ScratchDirectory) throws -> String {
        let path = scratch.file("model.safetensors")
        try FileManager.default.copyItem(atPath: Repo.fixture("small.safetensors"), toPath: path)
        return path
    }

    @Test func refusesToOverwriteItsInput() throws {
        let scratch = ScratchDirectory()
        let input = try copyOfSmall(in: scratch)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link.safetensors"), withDestinationPath: input)
        try FileManager.default.linkItem(atPath: input, toPath: scratch.file("hard.safetensors"))
        for output in [input, scratch.path + "/./model.safetensors", scratch.file("link.safetensors"), scratch.file("hard.safetensors"), scratch.path] {
            let result = loft("convert", input, output, "--dtype", "f16", "--overwrite")
            #expect(result.status == 1, "\(output)")
            #expect(result.stderr.contains("refusing to overwrite the input") || result.stderr.contains("the output directory contains the input"),
                    "\(output): \(result.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before)
        #expect(scratch.contents() == ["hard.safetensors", "link.safetensors", "model.safetensors"])
    }

    @Test func refusesToWriteIntoTheShardsDirectory() throws {
        let scratch = ScratchDirectory()
        let shards = scratch.file("sharded")
        try FileManager.default.copyItem(atPath: Repo.fixture("sharded"), toPath: shards)
        for output in [shards, shards + "/model-00001-of-00002.safetensors", shards + "/model.safetensors.index.json"] {
            let result = loft("convert", shards, output, "--max-shard-size", "1MB", "--overwrite")
            let plain = loft("convert", shards, output, "--overwrite")
            #expect(result.status != 0 && plain.status != 0, "\(output)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: shards).count == 3)
    }

    @Test func failureMidwayLeavesNothingAtTheOutput() throws {
        let scratch = ScratchDirectory()
        // bad-crc.npz: the second member's CRC-32 does not match; the first converts fine.
        for output in ["out.safetensors", "out.npz", "outdir"] {
            let result = loft("convert", Repo.fixture("bad-crc.npz"), scratch.file(output))
            #expect(result.status == 1, "\(output)")
            #expect(result.stderr.contains("bad-crc.npz"), "\(result.stderr)")
            #expect(scratch.contents().isEmpty, "\(output): left \(scratch.contents())")
        }
    }

    @Test func failureKeepsAnExistingOutputIntact() throws {
        let scratch = ScratchDirectory()
        let output = scratch.file("out.safetensors")
        try Data("previous".utf8).write(to: URL(fileURLWithPath: output))
        #expect(loft("convert", Repo.fixture("bad-crc.npz"), output, "--overwrite").status == 1)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "previous")
        #expect(scratch.contents() == ["out.safetensors"])
    }
}
