// loft combine from the command line: the report, its JSON, the usage errors (64) and
// failures (1), and — with PEFT installed — that PEFT loads the combined adapter and applies
// exactly the delta loft wrote.

import Foundation
import Testing
import TensorIO
@testable import LoftCLI

@Suite struct CombineCommandTests {
    static func input(_ name: String) -> String { Repository.root.appendingPathComponent("fixtures/combine/in-\(name)").path }

    @Test func catReportsEveryModuleAndWritesAPeftAdapter() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("both")
        let result = loft("combine", "--adapter", Self.input("llama-a") + ":0.7", "--adapter", Self.input("llama-b") + ":0.3", "--method", "cat", "--out", out, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        #expect(json["method"]?.stringValue == "cat")
        #expect(json["r"]?.intValue == 8)
        let modules = json["modules"]?.arrayValue ?? []
        #expect(modules.count == 8)
        let up = modules.first { $0["module"]?.stringValue == "model.layers.0.mlp.up_proj" }
        #expect(up?["input_ranks"]?.arrayValue == [.null, .integer(4)])
        #expect(up?["rank"]?.intValue == 4)
        #expect(FileManager.default.fileExists(atPath: out + "/adapter_model.safetensors"))
        #expect(FileManager.default.fileExists(atPath: out + "/adapter_config.json"))
    }

    @Test func usageErrorsExit64BeforeAnyWork() {
        let scratch = ScratchDirectory()
        let a = Self.input("llama-a"), b = Self.input("llama-b"), out = scratch.file("x")
        let cases: [([String], String)] = [
            (["--adapter", a, "--adapter", b, "--method", "ties", "--out", out], "needs --density"),
            (["--adapter", a, "--adapter", b, "--method", "cat", "--density", "0.5", "--out", out], "--density does not apply"),
            (["--adapter", a, "--adapter", b, "--method", "dare_linear", "--density", "1.5", "--out", out], "(0, 1]"),
            (["--adapter", a, "--adapter", b, "--method", "linear", "--rank", "2", "--out", out], "--rank applies to the svd methods"),
            (["--adapter", a, "--adapter", b, "--method", "average", "--out", out], "average"),
            (["--adapter", a + ":x", "--method", "cat", "--out", out], "is not a number"),
        ]
        for (arguments, message) in cases {
            let result = loft(["combine"] + arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.hasPrefix("loft combine: "), "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
        #expect(scratch.contents().isEmpty)
    }

    @Test func refusedInputsExit1AndLeaveNothing() {
        let scratch = ScratchDirectory()
        let out = scratch.file("x")
        let dora = Repository.root.appendingPathComponent("fixtures/adapters/peft-llama-dora").path
        let mlx = Repository.root.appendingPathComponent("fixtures/adapters/mlx-llama-lora").path
        for (other, message) in [(dora, "DoRA"), (mlx, "MLX-LM"), (scratch.file("missing"), "not an adapter")] {
            let result = loft("combine", "--adapter", Self.input("llama-a"), "--adapter", other, "--method", "cat", "--out", out)
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("loft combine: ") && result.stderr.contains(message), "\(result.stderr)")
        }
        let mixed = loft("combine", "--adapter", Self.input("llama-mixed"), "--adapter", Self.input("llama-a"), "--method", "linear", "--out", out)
        #expect(mixed.status == 1 && mixed.stderr.contains("use cat or svd"), "\(mixed.stderr)")
        #expect(scratch.contents().isEmpty)
    }

    /// PEFT loads loft's adapter (rank_pattern, alpha_pattern, scale 1) and its delta for every
    /// module is the weighted sum of the inputs' deltas (cat is exact).
    @Test(.requiresPython("peft", "torch", "transformers"))
    func peftLoadsTheCombinedAdapter() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("mixed")
        let result = loft("combine", "--adapter", Self.input("llama-mixed"), "--adapter", Self.input("llama-b") + ":-0.5", "--method", "cat", "--out", out)
        #expect(result.status == 0, "\(result.stderr)")
        let script = """
            import sys, torch
            sys.path.insert(0, sys.argv[1] + "/fixtures")
            from generators.adapters import tiny_llama
            from peft import PeftModel
            model = PeftModel.from_pretrained(tiny_llama(), sys.argv[2], adapter_name="c")
            model.load_adapter(sys.argv[3], adapter_name="m")
            model.load_adapter(sys.argv[4], adapter_name="b")
            worst = 0.0
            for name, module in model.named_modules():
                if hasattr(module, "lora_A") and "c" in module.lora_A:
                    want = torch.zeros_like(module.get_delta_weight("c"), dtype=torch.float64)
                    for adapter, weight in (("m", 1.0), ("b", -0.5)):
                        if adapter in module.lora_A:
                            want += weight * module.get_delta_weight(adapter).double()
                    got = module.get_delta_weight("c").double()
                    worst = max(worst, ((got - want).abs().max() / want.abs().max()).item())
            print(worst)
            """
        let output = try Python.output(script, [Repository.root.path, out, Self.input("llama-mixed"), Self.input("llama-b")])
        let worst = try #require(Double(output.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(worst < 1e-6, "relative difference \(worst)")
    }
}
