// loft convert --to mlx / --to peft: the converted adapter merges to the same weights as the
// original (PEFT's merge_and_unload and mlx-lm's fuse formula, the fixtures of
// fixtures/generators/adapters.py), through both directions and back, for plain LoRA,
// rsLoRA with rank and alpha patterns (scales folded into lora_b), DoRA and GPT-2's Conv1D;
// PEFT loads the converted MLX-LM adapters.

import Foundation
import Testing
import TensorIO
@testable import Adapters

@Suite struct AdapterConversionTests {
    static let peftCases: [(adapter: String, base: String, expected: String)] = [
        ("peft-llama-lora", "llama-base.safetensors", "expected-llama-lora.safetensors"),
        ("peft-llama-rslora-patterns", "llama-base.safetensors", "expected-llama-rslora-patterns.safetensors"),
        ("peft-llama-dora", "llama-base.safetensors", "expected-llama-dora.safetensors"),
        ("peft-gpt2-lora", "gpt2-base.safetensors", "expected-gpt2-lora.safetensors"),
        ("mlx-llama-lora", "llama-base.safetensors", "expected-llama-mlx-lora.safetensors"),
        ("mlx-llama-dora", "llama-base.safetensors", "expected-llama-mlx-dora.safetensors"),
    ]

    func expectMerge(_ adapter: String, base: String, equals expected: String, scratch: ScratchDirectory, _ label: String) throws {
        let out = scratch.file(label + ".safetensors")
        try merge(base: Fixture.path(base), adapters: [AdapterSource(path: adapter)], out: out)
        let merged = try LoadedTensors(out), want = try LoadedTensors(Fixture.path(expected))
        for name in want.names {
            let worst = zip(merged.values[name]!, want.values[name]!).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= float32Tolerance(want.values[name]!) * 2, "\(label) \(name): \(worst)")
        }
    }

    @Test(arguments: peftCases.map(\.adapter))
    func convertedAdaptersMergeToTheSameWeights(adapter: String) throws {
        let c = Self.peftCases.first { $0.adapter == adapter }!
        let scratch = ScratchDirectory()
        let (there, back): (AdapterLayout, AdapterLayout) = adapter.hasPrefix("peft") ? (.mlx, .peft) : (.peft, .mlx)
        let converted = scratch.file("there"), returned = scratch.file("back")
        let report = try AdapterConversion.run(input: Fixture.path(adapter), output: converted, to: there)
        #expect(report.modules == (try Adapter(directory: Fixture.path(adapter))).updates.count)
        #expect(try Adapter(directory: converted).format.rawValue == there.rawValue)
        _ = try AdapterConversion.run(input: converted, output: returned, to: back)
        try expectMerge(converted, base: c.base, equals: c.expected, scratch: scratch, "there")
        try expectMerge(returned, base: c.base, equals: c.expected, scratch: scratch, "back")
    }

    @Test func mlxConfigHasOneScaleNumLayersAndKeys() throws {
        let scratch = ScratchDirectory()
        let report = try AdapterConversion.run(input: Fixture.path("peft-llama-rslora-patterns"), output: scratch.file("m"), to: .mlx)
        let config = try AdapterConfigParser.readJSON(scratch.file("m") + "/adapter_config.json")
        #expect(config["num_layers"]?.intValue == 2)
        #expect(config["lora_parameters"]?["keys"]?.arrayValue?.count == 7)
        #expect(config["lora_parameters"]?["scale"]?.doubleValue == report.scale)
        // rank_pattern gives q_proj rank 2, so its lora_a is in x 2 and config rank stays 4.
        #expect(config["lora_parameters"]?["rank"]?.intValue == 4)
        #expect(report.folded > 0)
    }

    @Test func whatMlxCannotHoldIsRefused() {
        let scratch = ScratchDirectory()
        for (adapter, reason) in [("peft-llama-embedding", "embedding"), ("peft-llama-modules-to-save", "modules_to_save"), ("peft-gpt2-lora-bias", "lora_bias")] {
            let error = adapterError { _ = try AdapterConversion.run(input: Fixture.path(adapter), output: scratch.file("x"), to: .mlx) }
            guard case let .unsupportedCombination(_, message)? = error else { Issue.record("\(adapter): \(String(describing: error))"); continue }
            #expect(message.contains(reason), "\(message)")
        }
        #expect(scratch.contents().isEmpty)
    }

    /// PEFT loads an MLX-LM adapter converted to PEFT (DoRA included), and its
    /// merge_and_unload is mlx-lm's fuse of the original.
    @Test(.requiresPython("peft", "torch", "transformers", "safetensors"), arguments: ["lora", "dora"])
    func peftLoadsConvertedMlxAdapters(kind: String) throws {
        let scratch = ScratchDirectory()
        _ = try AdapterConversion.run(input: Fixture.path("mlx-llama-\(kind)"), output: scratch.file("p"), to: .peft)
        let script = """
            import sys
            sys.path.insert(0, sys.argv[1] + "/fixtures")
            from generators.adapters import tiny_llama
            from peft import PeftModel
            from safetensors.numpy import load_file
            model = PeftModel.from_pretrained(tiny_llama(), sys.argv[2]).merge_and_unload()
            want = load_file(sys.argv[3])
            print(max(abs(v.detach().numpy() - want[k]).max() for k, v in model.state_dict().items()))
            """
        let output = try Python.output(script, [Repository.root.path, scratch.file("p"), Fixture.path("expected-llama-mlx-\(kind).safetensors")])
        let worst = try #require(Double(output.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(worst < 1e-5, "max abs difference \(worst)")
    }
}
