// loft merge --config from the command line: the report and its JSON, usage errors (64) for
// mixing the adapter and the config forms, failures (1) naming the YAML and the key.

import Foundation
import Testing
import TensorIO
@testable import LoftCLI

@Suite struct MergeConfigCommandTests {
    static func config(_ name: String) -> String { Repository.path("fixtures/mergekit/\(name).yml") }

    @Test func tiesReportsTheMergeInJSON() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let out = scratch.file("merged")
        let result = loft("merge", "--config", Self.config("llama-ties"), "--out", out, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["method"]?.stringValue == "ties")
        #expect(json["models"]?.arrayValue?.count == 4)
        #expect(json["layers"]?.intValue == 4)
        #expect(json["tensors_merged"]?.intValue == 39)
        #expect(FileManager.default.fileExists(atPath: out + "/model.safetensors"))
        #expect(FileManager.default.fileExists(atPath: out + "/config.json"))
        // An existing output needs --overwrite.
        #expect(loft("merge", "--config", Self.config("llama-ties"), "--out", out).status == 1)
        #expect(loft("merge", "--config", Self.config("llama-ties"), "--out", out, "--overwrite").status == 0)
    }

    @Test func passthroughStacksLayersIntoOneFile() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let out = scratch.file("stacked.safetensors")
        let result = loft("merge", "--config", Self.config("gpt2-passthrough"), "--out", out)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("6 layer(s)"))
        let names = try tensorsOf(out).keys
        #expect(names.contains("transformer.h.5.attn.c_attn.weight"))
        #expect(!names.contains("transformer.h.6.attn.c_attn.weight"))
    }

    @Test func usageAndConfigErrors() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let out = scratch.file("x")
        let usage: [([String], String)] = [
            (["--config", Self.config("llama-ties"), "--base", "b", "--out", out], "--config takes no --base"),
            (["--config", Self.config("llama-ties"), "--dtype", "bf16", "--out", out], "--config takes no"),
            (["--out", out], "give --base BASE"),
            (["--config", Self.config("llama-ties"), "--out", scratch.file("x.gguf")], "not .gguf"),
        ]
        for (arguments, message) in usage {
            let result = loft(["merge"] + arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
        let bad = scratch.file("bad.yml")
        try "merge_method: linear\nmodels:\n  - model: a\n    parameters: {wieght: 1}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let result = loft("merge", "--config", bad, "--out", out)
        #expect(result.status == 1)
        #expect(result.stderr.contains("loft merge: \(bad): models[0].parameters.wieght: not a parameter of linear"), "\(result.stderr)")
        let missing = loft("merge", "--config", scratch.file("none.yml"), "--out", out)
        #expect(missing.status == 1 && missing.stderr.contains("no such file"), "\(missing.stderr)")
    }
}
