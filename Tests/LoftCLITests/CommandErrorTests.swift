// Errors as a user meets them: one message naming the file and the problem, exit status 1
// for bad input and 64 for bad usage, and never a crash trace from the real binary.

import Foundation
import Testing

@Suite struct CommandErrorTests {
    @Test func missingFileNamesThePath() {
        let result = loft("inspect", "/nonexistent/model.safetensors")
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("/nonexistent/model.safetensors"))
    }

    @Test func malformedFileIsBadInput() throws {
        let scratch = ScratchDirectory()
        let path = scratch.file("broken.safetensors")
        // A header length far past the end of the file.
        try Data([0xFF, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D]).write(to: URL(fileURLWithPath: path))
        let result = loft("inspect", path)
        #expect(result.status == 1)
        #expect(result.stderr.contains(path))
        let convert = loft("convert", path, scratch.file("out.npz"))
        #expect(convert.status == 1)
        #expect(scratch.contents() == ["broken.safetensors"])
    }

    @Test func usageErrorsExit64() throws {
        #expect(loft("inspect").status == 64)
        #expect(loft("inspect", Repo.fixture("small.safetensors"), "--bogus").status == 64)
        let scratch = ScratchDirectory()
        #expect(loft("convert", Repo.fixture("small.safetensors"), scratch.file("o.safetensors"), "--dtype", "f17").status == 64)
        #expect(loft("convert", Repo.fixture("small.safetensors"), scratch.file("o.txt")).status == 64)
        #expect(loft("convert", Repo.fixture("small.safetensors"), scratch.file("o.safetensors"), "--compress").status == 64)
        #expect(loft("convert", Repo.fixture("small.safetensors"), scratch.file("o.npz"), "--max-shard-size", "1GB").status == 64)
        #expect(loft("convert", Repo.fixture("small.safetensors"), scratch.file("o.npz"), "--rename", "noequals").status == 64)
        #expect(scratch.contents().isEmpty)
    }

    @Test func helpShowsExamples() {
        for command in ["inspect", "convert", "finetune", "eval", "generate", "merge", "diff", "experiment factorization"] {
            let result = loft(command.split(separator: " ").map(String.init) + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("Examples:"), "\(command)")
            #expect(result.stdout.contains("loft \(command) "), "\(command)")
            // An example wider than the help's 80 columns is wrapped without indentation and
            // no longer reads as one command line.
            let examples = result.stdout.components(separatedBy: "Examples:").dropFirst().first ?? ""
            for line in examples.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().prefix(while: { !$0.isEmpty }) {
                #expect(line.hasPrefix("  "), "\(command): example wrapped: \(line)")
            }
        }
    }

    @Test(.requiresBinary) func binaryExitsWithStatusAndMessageNotATrace() throws {
        let scratch = ScratchDirectory()
        let path = scratch.file("garbage.npz")
        try Data(repeating: 0x50, count: 100).write(to: URL(fileURLWithPath: path))
        for arguments in [["inspect", path], ["inspect", path, "--stats"], ["convert", path, scratch.file("o.safetensors")], ["inspect"]] {
            let (reason, status, text) = try runBinary(arguments)
            #expect(reason == .exit)
            #expect(status == (arguments.count == 1 ? 64 : 1), "\(arguments): \(text)")
            #expect(!text.contains("Fatal error") && !text.contains("Stack dump"))
            if arguments.count > 1 { #expect(text.contains(path)) }
        }
    }
}
