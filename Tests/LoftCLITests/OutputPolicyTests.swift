// The output policy (docs/output.md) as a user meets it, through the built binary: an
// existing directory keeps its other files and its mode, an output never is, contains or
// lies inside an input, existing outputs need --overwrite, unknown extensions are refused,
// byte paths that are not UTF-8 are written exactly, and a signal leaves no temporaries.
// Each test fails on the code before the policy (LOFT_BINARY=old-build to check).

import Foundation
import Testing
import TensorIO

@Suite(.requiresBinary) struct OutputPolicyTests {
    static let adapters = Repository.root.appendingPathComponent("fixtures/adapters").path
    let sharded = adapters + "/llama-sharded"
    let base = adapters + "/llama-base.safetensors"
    let lora = adapters + "/peft-llama-lora"

    func run(_ arguments: String..., in directory: String? = nil) throws -> ProcessResult {
        try Processes.loft(arguments, currentDirectory: directory)
    }

    func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    func sha(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func anExistingDirectoryKeepsItsOtherFilesAndMode() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try "mine".write(toFile: out + "/notes.txt", atomically: false, encoding: .utf8)
        chmod(out, 0o751)

        let refused = try run("merge", "--base", sharded, "--adapter", lora, "--out", out)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("loft merge: \(out): the directory is not empty; pass --overwrite"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["notes.txt"])

        let merged = try run("merge", "--base", sharded, "--adapter", lora, "--out", out, "--overwrite")
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == [
            "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "model.safetensors.index.json", "notes.txt"])
        #expect(try String(contentsOfFile: out + "/notes.txt", encoding: .utf8) == "mine")
        #expect(try mode(out) == 0o751)
        #expect(scratch.contents() == ["out"], "temporaries left: \(scratch.contents())")
    }

    @Test func aNewDirectoryGetsTheUsualMode() throws {
        let scratch = ScratchDirectory()
        let result = try run("merge", "--base", sharded, "--adapter", lora, "--out", scratch.file("fresh"))
        #expect(result.status == 0, "\(result.stderr)")
        let mask = umask(0o022)
        umask(mask)
        #expect(try mode(scratch.file("fresh")) == 0o777 & ~Int(mask))
    }

    @Test func anOutputHoldingTheInputsIsRefused() throws {
        let scratch = ScratchDirectory()
        let outer = scratch.file("outer")
        try FileManager.default.createDirectory(atPath: outer, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: sharded, toPath: outer + "/base")
        try FileManager.default.copyItem(atPath: lora, toPath: outer + "/adapter")
        let before = try FileManager.default.subpathsOfDirectory(atPath: outer).sorted()
        for overwrite in [false, true] {
            let result = try run("merge", "--base", "outer/base", "--adapter", "outer/adapter", "--out", "outer",
                                 overwrite ? "--overwrite" : "--json", in: scratch.path)
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("loft merge: outer: refusing to write there: the output directory contains the input outer/"), "\(result.stderr)")
        }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: outer).sorted() == before)
        #expect(scratch.contents() == ["outer"])
    }

    @Test func theDirectoryOfABaseFileIsRefused() throws {
        let scratch = ScratchDirectory()
        let w = scratch.file("w")
        try FileManager.default.createDirectory(atPath: w, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: base, toPath: w + "/model.safetensors")
        let before = try sha(w + "/model.safetensors")
        let result = try run("merge", "--base", w + "/model.safetensors", "--adapter", lora, "--out", w, "--overwrite")
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(w): refusing to write there: the output directory contains the input \(w)/model.safetensors"), "\(result.stderr)")
        #expect(try sha(w + "/model.safetensors") == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w) == ["model.safetensors"])
    }

    @Test func dotFromInsideIsRefusedCleanly() throws {
        let scratch = ScratchDirectory()
        let inner = scratch.file("inner")
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: base, toPath: inner + "/base.safetensors")
        for overwrite in [false, true] {
            let result = try run("merge", "--base", "base.safetensors", "--adapter", lora, "--out", ".",
                                 overwrite ? "--overwrite" : "--json", in: inner)
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("loft merge: .: refusing to write there: the output directory contains the input base.safetensors"), "\(result.stderr)")
            #expect(!result.stderr.contains("NSCocoaErrorDomain"))
        }
        #expect(scratch.contents() == ["inner"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: inner) == ["base.safetensors"])
    }

    @Test func theOutputInsideAnAdapterIsRefused() throws {
        let scratch = ScratchDirectory()
        let adapter = scratch.file("adapter")
        try FileManager.default.copyItem(atPath: lora, toPath: adapter)
        let result = try run("merge", "--base", base, "--adapter", adapter, "--out", adapter + "/merged.safetensors")
        #expect(result.status == 1)
        #expect(result.stderr.contains("refusing to write there: it lies inside the input \(adapter)"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: adapter).sorted() == ["adapter_config.json", "adapter_model.safetensors"])
    }

    @Test func anExistingFileNeedsOverwrite() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("out.safetensors")
        try "previous".write(toFile: out, atomically: false, encoding: .utf8)
        for arguments in [["merge", "--base", base, "--adapter", lora, "--out", out], ["convert", base, out]] {
            let refused = try Processes.loft(arguments)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("\(out): exists; pass --overwrite to replace it"), "\(refused.stderr)")
            #expect(try String(contentsOfFile: out, encoding: .utf8) == "previous")
            let replaced = try Processes.loft(arguments + ["--overwrite"])
            #expect(replaced.status == 0, "\(replaced.stderr)")
            #expect(try TensorFile.open(out).tensors.count == 21)
            try "previous".write(toFile: out, atomically: false, encoding: .utf8)
        }
        #expect(scratch.contents() == ["out.safetensors"])
    }

    @Test func mergeRefusesExtensionsItCannotWrite() throws {
        let scratch = ScratchDirectory()
        for name in ["x.npy", "x.bin", "x.pt", "notes.json"] {
            let result = try run("merge", "--base", base, "--adapter", lora, "--out", scratch.file(name))
            #expect(result.status == 64, "\(name)")
            #expect(result.stderr.hasPrefix("loft merge: \(scratch.file(name)): "), "\(result.stderr)")
        }
        #expect(scratch.contents().isEmpty, "\(scratch.contents())")
    }

    @Test func convertReportsTheSizeOfTheFilesWritten() throws {
        let scratch = ScratchDirectory()
        for (name, extra) in [("c.npz", ["--compress"]), ("plain.npz", []), ("out.safetensors", []), ("dir", ["--max-shard-size", "30KB"])] {
            let out = scratch.file(name)
            let result = try Processes.loft(["convert", base, out, "--json"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
            var size = 0
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory)
            for file in isDirectory.boolValue ? try FileManager.default.contentsOfDirectory(atPath: out).map({ out + "/" + $0 }) : [out] {
                size += (try FileManager.default.attributesOfItem(atPath: file)[.size] as! NSNumber).intValue
            }
            #expect(json["output_bytes"] as? Int == size, "\(name): \(result.stdout)")
        }
    }

    /// Runs `loft` through the shell, so the arguments can hold bytes that are not UTF-8
    /// (printf's octal escapes); Foundation's Process would send them as UTF-8.
    func shell(_ script: String, in directory: String) throws -> ProcessResult {
        try Processes.run("/bin/sh", ["-c", script], environment: ["LOFT": try #require(Repository.binary), "PATH": "/usr/bin:/bin"],
                          currentDirectory: directory)
    }

    @Test func pathsThatAreNotUTF8AreWrittenAsGiven() throws {
        let scratch = ScratchDirectory()
        // dir\xff exists, dir\u{FFFD} (what a lossy decoding makes of it) too: the output
        // must land in the first.
        let script = """
            set -e
            mkdir "$(printf 'dir\\377')" "dir\(String(UnicodeScalar(0xFFFD)!))"
            cp '\(base)' "$(printf 'in\\377.safetensors')"
            "$LOFT" convert "$(printf 'in\\377.safetensors')" "$(printf 'dir\\377/out.safetensors')" --dtype f16
            "$LOFT" merge --base "$(printf 'in\\377.safetensors')" --adapter '\(lora)' --out "$(printf 'dir\\377/merged\\376')"
            test -f "$(printf 'dir\\377/out.safetensors')"
            test -f "$(printf 'dir\\377/merged\\376/model.safetensors')"
            test -z "$(ls "dir\(String(UnicodeScalar(0xFFFD)!))")"
            "$LOFT" inspect "$(printf 'dir\\377/out.safetensors')" > /dev/null
            """
        let result = try shell(script, in: scratch.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test func aMissingPathThatIsNotUTF8IsNamedWithItsBytes() throws {
        let scratch = ScratchDirectory()
        let result = try shell(#""$LOFT" inspect "$(printf 'gone\377.safetensors')""#, in: scratch.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains(#"gone\xFF.safetensors"#), "\(result.stderr)")
    }

    @Test(arguments: [SIGTERM, SIGINT]) func aSignalDuringADirectoryMergeLeavesNoTemporaries(signal number: Int32) throws {
        let scratch = ScratchDirectory()
        let marker = scratch.file("paused")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Repository.binary))
        process.arguments = ["merge", "--base", sharded, "--adapter", lora, "--out", scratch.file("out/merged")]
        process.environment = ["LOFT_TEST_PAUSE_AT_COMMIT": marker]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The staging directory is complete once the merge pauses before moving it into place.
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: marker), process.isRunning, Date() < deadline { usleep(20_000) }
        #expect(FileManager.default.fileExists(atPath: marker), "the merge never reached its commit")
        let staged = (try? FileManager.default.contentsOfDirectory(atPath: scratch.file("out"))) ?? []
        #expect(staged.contains { $0.hasPrefix(".merged.tmp-") }, "\(staged)")
        kill(process.processIdentifier, number)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(scratch.contents() == ["paused"], "left: \(scratch.contents()) / \((try? FileManager.default.contentsOfDirectory(atPath: scratch.file("out"))) ?? [])")
    }

    @Test func finetuneNeedsOverwriteForANonEmptyDirectory() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("run")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try "mine".write(toFile: out + "/notes.txt", atomically: false, encoding: .utf8)
        let arguments = ["finetune", "--base", Repository.path("demo/model"), "--data", Repository.path("demo/text/proverbs.txt"),
                         "--steps", "2", "--batch", "1", "--seq", "16", "--out", out]
        let refused = try Processes.loft(arguments)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("loft finetune: \(out): the directory is not empty; pass --overwrite"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["notes.txt"])
        let written = try Processes.loft(arguments + ["--overwrite"])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).contains("adapter_model.safetensors"))
        #expect(try String(contentsOfFile: out + "/notes.txt", encoding: .utf8) == "mine")
        // Continuing the run in place is the run's own output: no --overwrite needed.
        let resumed = try Processes.loft(arguments.map { $0 == "2" ? "4" : $0 } + ["--resume", out])
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }

    @Test func finetuneRefusesToWriteIntoItsBase() throws {
        let scratch = ScratchDirectory()
        let model = scratch.file("model")
        try FileManager.default.copyItem(atPath: Repository.path("demo/model"), toPath: model)
        let result = try run("finetune", "--base", model, "--data", Repository.path("demo/text/proverbs.txt"),
                             "--optimizer", "adamw", "--steps", "1", "--out", model, "--overwrite")
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(model): refusing to overwrite the input"), "\(result.stderr)")
    }

    @Test func experimentNeedsOverwriteForANonEmptyDirectory() throws {
        let scratch = ScratchDirectory()
        try "mine".write(toFile: scratch.file("notes.txt"), atomically: false, encoding: .utf8)
        let arguments = ["experiment", "factorization", "--m", "8", "--n", "8", "--rank", "2", "--target-rank", "2", "--steps", "2", "--out", scratch.path]
        let refused = try Processes.loft(arguments)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the directory is not empty"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("running"))
        let written = try Processes.loft(arguments + ["--overwrite"])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(scratch.contents() == ["losses.csv", "losses.svg", "notes.txt"])
    }

    /// combine, extract and convert --to write adapter directories by the same policy: a
    /// non-empty OUT needs --overwrite, other files stay, and an earlier adapter's weights in
    /// another layout are removed so the directory holds one adapter.
    @Test func adapterOutputsFollowThePolicy() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("out")
        let mlx = Self.adapters + "/mlx-llama-lora"
        #expect(try run("convert", mlx, out, "--to", "mlx").status == 0)
        try "mine".write(toFile: out + "/notes.txt", atomically: false, encoding: .utf8)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["adapter_config.json", "adapters.safetensors", "notes.txt"])

        let refused = try run("convert", mlx, out, "--to", "peft")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("loft convert: \(out): the directory is not empty; pass --overwrite"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["adapter_config.json", "adapters.safetensors", "notes.txt"])

        let converted = try run("convert", mlx, out, "--to", "peft", "--overwrite")
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["adapter_config.json", "adapter_model.safetensors", "notes.txt"])

        let combineRefused = try run("combine", "--adapter", lora, "--method", "cat", "--out", out)
        #expect(combineRefused.status == 1)
        #expect(combineRefused.stderr.contains("the directory is not empty"), "\(combineRefused.stderr)")
        let intoInput = try run("combine", "--adapter", lora, "--method", "cat", "--out", lora, "--overwrite")
        #expect(intoInput.status == 1)
        #expect(intoInput.stderr.contains("refusing to overwrite the input"), "\(intoInput.stderr)")
        #expect(try run("combine", "--adapter", lora, "--method", "cat", "--out", out, "--overwrite").status == 0)
        #expect(try String(contentsOfFile: out + "/notes.txt", encoding: .utf8) == "mine")
        #expect(scratch.contents() == ["out"], "temporaries left: \(scratch.contents())")
    }
}
