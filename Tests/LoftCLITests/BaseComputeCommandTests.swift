// `--base-compute bf16` on eval, finetune, generate and llama-step: a base held in bf16
// multiplies in bf16 (activations rounded; AVX-512 BF16, or the same arithmetic in float32
// on a CPU without it), close to the float32 compute; with a base held in f32 or f16 it is
// a usage error.

import Foundation
import Testing
import TensorIO

@Suite struct BaseComputeCommandTests {
    static let bf16Model = BaseDTypeCommandTests.bf16Model
    static let tokens = BaseDTypeCommandTests.tokens

    private func loss(_ stdout: String) -> Double? {
        guard let data = stdout.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["loss"] as? Double
    }

    @Test func evalInBF16IsCloseToFloat32Compute() throws {
        var losses: [Double] = []
        for compute in ["f32", "bf16"] {
            let result = loft("eval", "--base", Self.bf16Model, "--data", Self.tokens, "--seq", "16", "--base-compute", compute, "--json")
            #expect(result.status == 0, "\(compute): \(result.stderr)")
            losses.append(try #require(loss(result.stdout), "\(result.stdout)"))
        }
        #expect(losses[0] != losses[1], "bf16 compute rounds the activations")
        #expect(abs(losses[0] - losses[1]) <= 1e-2 * abs(losses[0]), "\(losses)")
    }

    /// A float32 checkpoint with `--base-dtype auto` is held in bf16 for bf16 compute.
    @Test func finetuneAndGenerateComputeInBF16() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let out = scratch.file("lora")
        let finetune = loft("finetune", "--base", Repository.path("fixtures/llama/gqa"), "--data", Self.tokens, "--steps", "2", "--seq", "16",
                            "--batch", "2", "--base-compute", "bf16", "--out", out)
        #expect(finetune.status == 0, "\(finetune.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/adapter_model.safetensors"))
        let gpt2 = Repository.path("fixtures/training/gpt2")
        let generate = loft("generate", "--base", gpt2, "--prompt", "hello", "--max-tokens", "3", "--temperature", "0",
                            "--base-compute", "bf16", "--json")
        #expect(generate.status == 0, "\(generate.stderr)")
        let step = loft("experiment", "llama-step", "--layers", "1", "--batch", "1", "--seq", "8", "--steps", "1",
                        "--base-dtype", "bf16", "--base-compute", "bf16", "--json")
        #expect(step.status == 0, "\(step.stderr)")
        #expect(step.stdout.contains("\"base_compute\":\"bf16\""), "\(step.stdout)")
    }

    @Test(arguments: ["f32", "f16"])
    func bf16ComputeOfABaseHeldOtherwiseIsAUsageError(dtype: String) {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        for command in [["eval", "--base", Self.bf16Model, "--data", Self.tokens],
                        ["finetune", "--base", Self.bf16Model, "--data", Self.tokens, "--steps", "1", "--out", scratch.file("out")],
                        ["experiment", "llama-step"]] {
            let result = loft(command + ["--base-dtype", dtype, "--base-compute", "bf16"])
            #expect(result.status == 64, "\(command[0]): \(result.stderr)")
            #expect(result.stderr.contains("--base-compute") || result.stderr.contains("--base-dtype"), "\(command[0]): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("out")))
    }
}
