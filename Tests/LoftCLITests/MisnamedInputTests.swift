// Inputs whose name says one thing and whose bytes another, and directories that hold no
// checkpoint: the message says what the file really is, or what was looked for, for every
// command that opens a checkpoint (inspect, convert, diff and merge share TensorFile.open).

import Foundation
import Testing
import TensorIO

@Suite struct MisnamedInputTests {
    @Test func npyNamedSafetensorsSaysWhatItIs() throws {
        let scratch = ScratchDirectory()
        let path = scratch.file("weights.safetensors")
        try FileManager.default.copyItem(atPath: Repo.fixture("wte.npy"), toPath: path)
        for arguments in [["inspect", path], ["convert", path, scratch.file("out.npz")], ["diff", path, path]] {
            let result = loft(arguments)
            #expect(result.status == (arguments[0] == "diff" ? 2 : 1), "\(arguments)")
            #expect(result.stderr.contains("weights.safetensors"), "\(result.stderr)")
            #expect(result.stderr.contains("a .npy file"), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("out.npz")))
    }

    @Test func zipNamedNpySaysWhatItIs() throws {
        let scratch = ScratchDirectory()
        let path = scratch.file("weights.npy")
        try FileManager.default.copyItem(atPath: Repo.fixture("small.npz"), toPath: path)
        let result = loft("inspect", path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("a .npz (zip) archive"), "\(result.stderr)")
    }

    @Test func directoryWithoutCheckpointNamesWhatWasLookedFor() throws {
        let scratch = ScratchDirectory()
        // A shard without its index: nothing says which tensors are where.
        try FileManager.default.copyItem(atPath: Repo.fixture("small.safetensors"), toPath: scratch.file("model-00001-of-00002.safetensors"))
        let result = loft("inspect", scratch.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("model.safetensors.index.json"), "\(result.stderr)")
    }

    @Test func mergeReadsTheBaseLikeInspect() throws {
        // merge and diff used their own opener, which took any unknown name for safetensors.
        let result = loft("diff", Repo.fixture("wte.npy"), Repo.fixture("wte.npy"))
        #expect(result.status == 0, "\(result.stderr)")
    }
}
