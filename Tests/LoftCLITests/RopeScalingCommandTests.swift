// loft convert with rope scaling (fixtures/rope, generators/rope.py), both ways:
//   - to GGUF: the llama3 model's rope_freqs.weight, and the linear model's rope.scaling keys,
//     equal what llama.cpp's convert_hf_to_gguf.py wrote for the same models (every tensor
//     bit for bit: both are float32); Gemma 3's global linear scaling as rope.scaling.*;
//   - from GGUF: the converter's llama3 file back to a Hugging Face directory whose config
//     has the original rope parameters and whose logits (loft's, and transformers' when
//     installed) are the original model's.
// llama.cpp running loft's rope-scaled files is part of scripts/check-llamacpp.py (alone:
// --only rope), run by LlamaCppCheckTests.

import Foundation
import Testing
import TensorIO

@Suite struct RopeScalingCommandTests {
    static func fixture(_ relative: String) -> String { Repository.path("fixtures/rope/\(relative)") }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    static func header(_ path: String) throws -> GGUFHeader { try GGUFReader(path: path).header }

    @Test(arguments: ["llama3", "linear"])
    func exportEqualsLlamaCppsConverter(model: String) throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let out = scratch.file("\(model).gguf")
        let result = loft("convert", Self.fixture(model), out, "--dtype", "f32")
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try tensorsOf(out), theirs = try tensorsOf(Self.fixture("\(model)/\(model).gguf"))
        #expect(Set(ours.keys) == Set(theirs.keys))
        for (name, (info, bytes)) in theirs {
            #expect(ours[name]?.0.shape == info.shape && ours[name]?.1 == bytes, "\(name) differs from the converter's")
        }
        #expect((ours["rope_freqs.weight"] != nil) == (model == "llama3"))
        let (mine, converter) = (try Self.header(out), try Self.header(Self.fixture("\(model)/\(model).gguf")))
        for key in ["llama.rope.freq_base", "llama.rope.dimension_count", "llama.rope.scaling.type", "llama.rope.scaling.factor",
                    "llama.context_length"] {
            #expect(mine.value(key)?.text == converter.value(key)?.text, "\(key)")
        }
        #expect(mine.value("llama.rope.scaling.type")?.stringValue == (model == "linear" ? "linear" : nil))
    }

    @Test func gemma3GlobalLinearScalingIsWrittenAndReadBack() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let out = scratch.file("g.gguf")
        let result = loft("convert", Self.fixture("gemma3-linear"), out, "--dtype", "f32")
        #expect(result.status == 0, "\(result.stderr)")
        let header = try Self.header(out)
        #expect(header.value("gemma3.rope.scaling.type")?.stringValue == "linear")
        #expect(header.value("gemma3.rope.scaling.factor")?.doubleValue == 8)
        #expect(header.value("gemma3.rope.freq_base")?.doubleValue == 1e6)
        let back = loft("convert", out, scratch.file("back"))
        #expect(back.status == 0, "\(back.stderr)")
        let config = try Self.json(scratch.file("back/config.json"))
        let scaling = try #require(config["rope_scaling"] as? [String: Any])
        #expect(scaling["rope_type"] as? String == "linear" && scaling["factor"] as? Double == 8)
        let full = try #require((config["rope_parameters"] as? [String: Any])?["full_attention"] as? [String: Any])
        #expect(full["rope_type"] as? String == "linear" && full["factor"] as? Double == 8)
        let sliding = try #require((config["rope_parameters"] as? [String: Any])?["sliding_attention"] as? [String: Any])
        #expect(sliding["rope_type"] as? String == "default")
    }

    @Test func llamaCppsLlama3FileConvertsBackToTheOriginal() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let back = scratch.file("back")
        let result = loft("convert", Self.fixture("llama3/llama3.gguf"), back)
        #expect(result.status == 0, "\(result.stderr)")
        let scaling = try #require(try Self.json(back + "/config.json")["rope_scaling"] as? [String: Any])
        let original = try #require(try Self.json(Self.fixture("llama3/config.json"))["rope_parameters"] as? [String: Any])
        for key in ["rope_type", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"] {
            #expect("\(scaling[key] ?? "missing")" == "\(original[key] ?? "absent")", "\(key)")
        }
        #expect(!(try tensorsOf(back + "/model.safetensors").keys.contains { $0.contains("rope") }))
        let diff = loft("diff", back + "/model.safetensors", Self.fixture("llama3/model.safetensors"), "--atol", "0", "--rtol", "0")
        #expect(diff.stdout.contains("0 differ, 0 missing, 0 extra"), "\(diff.stdout)")
    }

    /// `--base model.gguf` (eval, finetune, generate read it the same way) runs the converter's
    /// llama3 file with its scaling: transformers' loss on the 2 x 16 fixture tokens.
    @Test func evalOnTheLlama3GGUFGivesTransformersLoss() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let tokens = scratch.file("ids.npy")
        #expect(loft("convert", Self.fixture("llama3/input_ids.safetensors"), tokens).status == 0)
        let result = loft("eval", "--base", Self.fixture("llama3/llama3.gguf"), "--data", tokens, "--seq", "16", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let loss = try #require(report["loss"] as? Double)
        let expected = try SafetensorsReader(path: Self.fixture("llama3/expected-base.safetensors")).data(for: "loss")
            .withElements(as: Float.self) { Double($0[0]) }
        #expect(abs(loss - expected) < 1e-5 * expected, "\(loss) vs \(expected)")
    }

    /// transformers loads the config loft wrote from the converter's file, and its logits are
    /// the original model's.
    @Test(.requiresPython("torch", "transformers", "safetensors"))
    func transformersRunsTheConvertedBack() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let back = scratch.file("back")
        #expect(loft("convert", Self.fixture("llama3/llama3.gguf"), back).status == 0)
        let script = """
            import sys, torch
            from safetensors.torch import load_file
            from transformers import AutoModelForCausalLM
            model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
            ids = load_file(sys.argv[2] + "/input_ids.safetensors")["input_ids"].long()
            expected = load_file(sys.argv[2] + "/expected-base.safetensors")["logits"]
            with torch.no_grad():
                logits = model(ids).logits
            print("error", float((logits - expected).abs().max() / expected.abs().max()))
            """
        let output = try Python.output(script, [back, Self.fixture("llama3")])
        let error = try #require(output.split(separator: " ").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        #expect(error < 1e-5, "\(output)")
    }
}
