// Every command opens its model through ModelSource: what a file is when loft cannot read
// it, what a directory holds when it has no weights, what was guessed (notes), and inputs
// that are not what a flag needs. Each test is a regression of issue 10 (defects 7, 10, 12, 13).

import Foundation
import Testing

@Suite struct ModelSourceCommandTests {
    static func format(_ name: String) -> String { Repo.root.appendingPathComponent("fixtures/formats/" + name).path }
    static let demo = Repo.root.appendingPathComponent("demo/model").path
    static let text = Repo.root.appendingPathComponent("demo/text/proverbs-eval.txt").path

    @Test func inspectAndEvalSayAPickleIsOne() throws {
        let path = Self.format("plain.pickle.bin")
        // Before: "not an .npy array" and "a header length of 578712552184433488".
        for arguments in [["inspect", path], ["convert", path, "unused.safetensors"], ["eval", "--base", path, "--data", Self.text]] {
            let result = loft(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("\(path): a Python pickle (protocol 2, as legacy PyTorch checkpoints are); loft cannot read this format yet"), "\(arguments): \(result.stderr)")
        }
    }

    @Test func aDirectoryWithoutWeightsSaysWhatItHolds() throws {
        // Before: "invalid sharded checkpoint index".
        let path = Self.format("no-weights")
        for arguments in [["inspect", path], ["eval", "--base", path, "--data", Self.text]] {
            let result = loft(arguments)
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(path): no weights: holds only config.json, tokenizer.json"), "\(result.stderr)")
        }
    }

    @Test func aBareGPT2FileSaysItGuessedTheHeads() throws {
        let scratch = ScratchDirectory()
        try FileManager.default.copyItem(atPath: Self.demo + "/model.safetensors", toPath: scratch.file("bare.safetensors"))
        let result = loft("eval", "--base", scratch.file("bare.safetensors"), "--data", Self.text, "--tokenizer", Self.demo, "--seq", "32")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("loft eval: note: \(scratch.file("bare.safetensors")): no config.json beside it"), "\(result.stderr)")
        #expect(result.stderr.contains("64-wide heads"))
        // With its config.json there is nothing to say.
        let quiet = loft("eval", "--base", Self.demo, "--data", Self.text, "--seq", "32")
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
    }

    @Test func evalDataThatIsNotAFileSaysWhatItIs() throws {
        // Before: "/dev/null: no such file".
        let device = loft("eval", "--base", Self.demo, "--data", "/dev/null")
        #expect(device.status == 1)
        #expect(device.stderr.contains("/dev/null: cannot read: not a regular file"), "\(device.stderr)")
        let scratch = ScratchDirectory()
        try Data().write(to: URL(fileURLWithPath: scratch.file("empty.txt")))
        let empty = loft("eval", "--base", Self.demo, "--data", scratch.file("empty.txt"))
        #expect(empty.stderr.contains("\(scratch.file("empty.txt")): cannot read: an empty file"), "\(empty.stderr)")
    }

    @Test func finetuneRefusesBaseWithInit() throws {
        // Before: trained a random model whose adapter config named --base as its base.
        let scratch = ScratchDirectory()
        let result = loft("finetune", "--base", Self.demo, "--init", Self.demo + "/config.json", "--data", Self.text,
                          "--steps", "1", "--batch", "1", "--seq", "16", "--out", scratch.file("run"))
        #expect(result.status != 0)
        #expect(result.stderr.contains("--base \(Self.demo)") && result.stderr.contains("--init \(Self.demo)/config.json"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("run")))
    }

    @Test func aGarbageTrainerJSONIsNamed() throws {
        // Before: "unexpected end of JSON", naming no file.
        let scratch = ScratchDirectory()
        try FileManager.default.createDirectory(atPath: scratch.file("run/checkpoint"), withIntermediateDirectories: true)
        try "{\"format\": ".write(toFile: scratch.file("run/checkpoint/trainer.json"), atomically: false, encoding: .utf8)
        let result = loft("finetune", "--base", Self.demo, "--data", Self.text, "--steps", "2", "--batch", "1", "--seq", "16",
                          "--out", scratch.file("run"), "--resume", scratch.file("run"))
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(scratch.file("run/checkpoint/trainer.json")): cannot resume: invalid JSON"), "\(result.stderr)")
    }

    @Test func aGarbageConfigIsNamedByEveryCommand() throws {
        let scratch = ScratchDirectory()
        try FileManager.default.copyItem(atPath: Self.demo + "/model.safetensors", toPath: scratch.file("model.safetensors"))
        try "{\"n_embd\": 64,".write(toFile: scratch.file("config.json"), atomically: false, encoding: .utf8)
        for arguments in [["eval", "--base", scratch.path, "--data", Self.text], ["inspect", scratch.path]] {
            let result = loft(arguments)
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(scratch.file("config.json")): invalid JSON"), "\(arguments): \(result.stderr)")
        }
    }
}
