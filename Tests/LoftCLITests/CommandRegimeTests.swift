// One command regime: every command reports errors as `loft COMMAND: message` with exit 64
// for usage and 1 for failures, checks its values before any work (negative numbers are
// values, then range-checked), and prints JSON that parses, built from JSONValue.

import Foundation
import Testing
@testable import LoftCLI
import TensorIO
import Training

@Suite struct CommandRegimeTests {
    static let gpt2 = Repo.root.appendingPathComponent("fixtures/training/gpt2").path
    static let tokens = Repo.root.appendingPathComponent("fixtures/training/tokens.npy").path

    /// The fixture GPT-2 with its final layer norm's weights set to NaN: every logit is NaN.
    static func nanModel(in scratch: ScratchDirectory) throws -> String {
        let directory = scratch.file("nan-model")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: gpt2 + "/config.json", toPath: directory + "/config.json")
        let tensors = try tensorsOf(gpt2 + "/model.safetensors")
        let poisoned = try #require(tensors.keys.first { $0.hasSuffix("ln_f.weight") })
        var written: [TensorData] = []
        for (name, (info, bytes)) in tensors.sorted(by: { $0.key < $1.key }) {
            var bytes = bytes
            if name == poisoned {
                #expect(info.dtype == .F32)
                let nan = Float.nan.bitPattern
                for index in 0..<(bytes.count / 4) {
                    for byte in 0..<4 { bytes[index * 4 + byte] = UInt8(truncatingIfNeeded: nan >> (8 * UInt32(byte))) }
                }
            }
            written.append(bytes.withUnsafeBytes { TensorData(info: info, buffer: ByteBuffer(copying: $0)) })
        }
        try SafetensorsWriter.write(to: directory + "/model.safetensors", tensors: written)
        return directory
    }

    // Defect 8: `eval --json` printed `{"loss": nan, ...}` (not JSON) and exited 0.
    @Test func evalWithANonFiniteLossPrintsValidJSONAndFails() throws {
        let scratch = ScratchDirectory()
        let model = try Self.nanModel(in: scratch)
        let result = loft("eval", "--base", model, "--data", Self.tokens, "--seq", "16", "--json")
        #expect(result.status == 1, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["loss"] == .null)
        #expect(json["perplexity"] == .null)
        #expect(json["finite"] == .bool(false))
        #expect(json["tokens"]?.intValue ?? 0 > 0)
        #expect(result.stderr.hasPrefix("loft eval: \(Self.tokens): the loss is nan"), "\(result.stderr)")
    }

    @Test func evalJSONIsOneParsableLine() throws {
        let result = loft("eval", "--base", Self.gpt2, "--data", Self.tokens, "--seq", "16", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 1)
        let json = try JSON.parse(result.stdout)
        #expect(json["finite"] == .bool(true))
        let loss = json["loss"]?.doubleValue ?? .nan
        #expect(loss.isFinite)
    }

    // Defect 13: a negative number after a numeric option was read as an option ("Missing value").
    @Test(arguments: [
        (["finetune", "--base", gpt2, "--data", tokens, "--out", "OUT", "--steps", "-1"], "--steps must be positive (got -1)"),
        (["finetune", "--base", gpt2, "--data", tokens, "--out", "OUT", "--lr", "-1"], "--lr must be positive"),
        (["finetune", "--base", gpt2, "--data", tokens, "--out", "OUT", "--eval-fraction", "-0.1"], "--eval-fraction must be in (0, 1)"),
        (["convert", gpt2 + "/model.safetensors", "OUT", "--max-shard-size", "-5MB"], "--max-shard-size: invalid shard size \"-5MB\""),
        (["merge", "--base", gpt2, "--adapter", "a", "--out", "OUT", "--max-shard-size", "-5MB"], "--max-shard-size: invalid shard size \"-5MB\""),
        (["eval", "--base", gpt2, "--data", tokens, "--batch", "-2"], "--batch must be ≥ 1 (got -2)"),
        (["generate", "--base", gpt2, "--prompt", "x", "--top-k", "-1"], "--top-k must be ≥ 0 (got -1)"),
        (["generate", "--base", gpt2, "--prompt", "x", "--temperature", "-1"], "--temperature must be ≥ 0"),
        (["diff", "a", "b", "--atol", "-1"], "--atol and --rtol must be finite and >= 0"),
        (["experiment", "factorization", "--steps", "-3", "--out", "OUT"], "--steps must be ≥ 0 (got -3)"),
    ])
    func negativeNumbersAreValuesAndRangeChecked(_ arguments: [String], _ message: String) throws {
        let scratch = ScratchDirectory()
        let result = loft(arguments.map { $0 == "OUT" ? scratch.file("out") : $0 })
        #expect(result.status == 64)
        let command = "loft " + arguments.prefix(while: { !$0.hasPrefix("-") }).prefix(arguments[0] == "experiment" ? 2 : 1).joined(separator: " ")
        #expect(result.stderr.hasPrefix("\(command): \(message)"), "\(result.stderr)")
        #expect(!result.stderr.contains("Missing value"))
        #expect(scratch.contents().isEmpty)
    }

    // Defect 13: `finetune --out ""` trained to the end, then failed with a Foundation message.
    @Test func emptyOutputIsRefusedBeforeTraining() throws {
        let result = loft("finetune", "--base", Self.gpt2, "--data", Self.tokens, "--steps", "2", "--batch", "2", "--seq", "16", "--out", "")
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("loft finetune: --out must be a directory path, not empty"), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "trained before refusing: \(result.stdout)")
    }

    // Defect 14: finetune/eval/generate/experiment printed `Error: ...`; out-of-range values
    // exited 1 in some commands and 64 in others (`--steps 0` exited 1).
    @Test(arguments: [
        (["finetune", "--base", gpt2, "--data", "/nonexistent/data.npy", "--steps", "2", "--out", "OUT"], Int32(1), "/nonexistent/data.npy"),
        (["finetune", "--base", gpt2, "--data", tokens, "--steps", "0", "--out", "OUT"], Int32(64), "--steps must be positive (got 0)"),
        (["finetune", "--base", gpt2, "--data", tokens, "--steps", "2", "--batch", "2", "--seq", "999", "--out", "OUT"], Int32(64), "--seq 999 is longer than the model's context"),
        (["finetune", "--base", gpt2, "--data", tokens, "--steps", "2", "--batch", "2", "--seq", "16", "--rank", "33", "--out", "OUT"], Int32(64), "--rank 33 is larger than module"),
        (["finetune", "--base", gpt2, "--data", tokens, "--optimizer", "sgd", "--out", "OUT"], Int32(64), "The value 'sgd' is invalid for '--optimizer"),
        (["eval", "--base", "/nonexistent/model", "--data", tokens], Int32(1), "/nonexistent/model"),
        (["eval", "--base", gpt2, "--data", tokens, "--seq", "1"], Int32(64), "--seq must be ≥ 2 (got 1)"),
        (["generate", "--base", "/nonexistent/model", "--prompt", "x"], Int32(1), "/nonexistent/model"),
        (["experiment", "factorization", "--rank", "0", "--out", "OUT"], Int32(64), "--m, --n, --rank and --target-rank must be positive"),
        (["merge", "--base", gpt2, "--adapter", "/nonexistent/adapter", "--out", "OUT"], Int32(1), "/nonexistent/adapter"),
        (["inspect", "/nonexistent/x.safetensors"], Int32(1), "/nonexistent/x.safetensors"),
    ])
    func everyCommandReportsTheSameWay(_ arguments: [String], _ status: Int32, _ text: String) throws {
        let scratch = ScratchDirectory()
        let result = loft(arguments.map { $0 == "OUT" ? scratch.file("out") : $0 })
        let command = "loft " + (arguments[0] == "experiment" ? arguments.prefix(2) : arguments.prefix(1)).joined(separator: " ")
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.hasPrefix(command + ": "), "\(result.stderr)")
        #expect(result.stderr.contains(text), "\(result.stderr)")
        #expect(!result.stderr.contains("Error:"))
        #expect(scratch.contents().isEmpty)
    }

    /// The same through the real binary: statuses as a shell sees them.
    @Test(.enabled(if: Repo.binary != nil, "needs .build/debug/loft (swift build)"))
    func binaryStatusesAndPrefixes() throws {
        let cases: [([String], Int32, String)] = [
            (["finetune", "--base", Self.gpt2, "--data", Self.tokens, "--steps", "0", "--out", "/tmp/unused-loft-out"], 64, "loft finetune: --steps must be positive"),
            (["finetune", "--base", Self.gpt2, "--data", Self.tokens, "--steps", "-1", "--out", "/tmp/unused-loft-out"], 64, "loft finetune: --steps must be positive"),
            (["eval", "--base", "/nonexistent/model", "--data", Self.tokens], 1, "loft eval: /nonexistent/model"),
            (["generate", "--base", Self.gpt2, "--prompt", "x", "--top-k", "-1"], 64, "loft generate: --top-k"),
        ]
        for (arguments, status, prefix) in cases {
            let (_, exit, text) = try runBinary(arguments)
            #expect(exit == status, "\(arguments): \(text)")
            #expect(text.hasPrefix(prefix), "\(arguments): \(text)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/unused-loft-out"))
    }

    // From the last session's notes: `--adapter dir:abc` was read as a path named "dir:abc".
    @Test func adapterWeightSuffixMustBeANumber() throws {
        let scratch = ScratchDirectory()
        let result = loft("merge", "--base", Self.gpt2, "--adapter", scratch.file("dir") + ":abc", "--out", scratch.file("out"))
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("loft merge: --adapter \(scratch.file("dir")):abc: the weight \"abc\" after the last ':' is not a number"), "\(result.stderr)")
        #expect(scratch.contents().isEmpty)
    }

    @Test func adapterDirectoryWithAColonInItsNameIsStillAPath() throws {
        let scratch = ScratchDirectory()
        let directory = scratch.file("run:v2")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let result = loft("merge", "--base", Self.gpt2, "--adapter", directory, "--out", scratch.file("out"))
        // Read as the (empty) adapter directory it is, not as a weight.
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("loft merge: \(directory)"), "\(result.stderr)")
    }

    @Test func finetuneJSONSummaryParses() throws {
        let scratch = ScratchDirectory()
        let result = loft("finetune", "--base", Self.gpt2, "--data", Self.tokens, "--eval-fraction", "0.2", "--steps", "2", "--batch", "2",
                          "--seq", "16", "--out", scratch.file("run"), "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["steps"]?.intValue == 2)
        #expect(json["method"]?.stringValue == "loft")
        #expect(json["eval_loss"]?.doubleValue != nil)
        #expect(json["files"]?.arrayValue?.contains(.string(scratch.file("run") + "/adapter_model.safetensors")) == true)
    }

    @Test func generateJSONParses() throws {
        let result = loft("generate", "--base", Self.gpt2, "--prompt", "hello", "--max-tokens", "3", "--temperature", "0", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["prompt"] == .string("hello"))
        #expect(json["generated_tokens"]?.intValue ?? 0 >= 1)
        #expect(json["completion"]?.stringValue != nil)
    }

    /// Every training setting's flag is a real option of a command, so a library message
    /// rendered by the CLI never names a flag that does not exist.
    @Test func everyTrainingSettingNamesARealFlag() {
        let help = ["finetune", "eval", "generate"].map { loft($0, "--help").stdout }.joined()
        for setting in TrainingSetting.allCases {
            #expect(help.contains(setting.flag + " "), "\(setting) -> \(setting.flag)")
        }
        let error = TrainingError.invalidSetting(.learningRate, value: "-1.0", requirement: "positive")
        #expect(CommandFailure.message(error) == "--lr must be positive (got -1.0)")
        #expect(error.description == "learning rate must be positive (got -1.0)")
    }

    /// Closed choices are listed by --help and refused by the parser.
    @Test func closedChoicesAreListedInHelp() {
        let help = loft("finetune", "--help").stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("loft, lora, adamw"))
        #expect(help.contains("cosine, constant"))
        #expect(loft("merge", "--base", "b", "--adapter", "a", "--out", "o", "--dtype", "f8_e4m3").status == 64)
    }

    /// merge and inspect state the tensor bytes of the same file in the same units (ByteSize).
    @Test func sizeUnitsAgreeBetweenCommands() throws {
        let scratch = ScratchDirectory()
        let base = Repo.root.appendingPathComponent("fixtures/adapters/gpt2-base.safetensors").path
        let adapter = Repo.root.appendingPathComponent("fixtures/adapters/peft-gpt2-lora").path
        let merged = loft("merge", "--base", base, "--adapter", adapter, "--out", scratch.file("m.safetensors"))
        #expect(merged.status == 0, "\(merged.stderr)")
        let inspected = loft("inspect", scratch.file("m.safetensors"))
        let size = ByteSize.format(try tensorsOf(scratch.file("m.safetensors")).values.reduce(0) { $0 + $1.1.count })
        #expect(inspected.stdout.split(separator: "\n").first?.hasSuffix(size) == true, "\(inspected.stdout)")
        #expect(merged.stdout.contains("wrote \(size) to"), "\(merged.stdout)")
    }
}
