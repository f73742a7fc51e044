// loft convert on Gemma 3 and GGUF: llama.cpp's `gemma3` names and keys, every RMSNorm weight
// stored as 1 + w (back as w - 1), and the configs llama.cpp's fixed Gemma 3 choices would run
// differently refused. The gemma3 fixture itself is such a config (layer 1 full, scalar 20);
// the file llama.cpp can run is the same weights with a config it reproduces (both layers
// sliding, query_pre_attn_scalar = head_dim), written into a scratch copy.

import Foundation
import Testing
import TestSupport

@Suite(.requiresBinary) struct GGUFGemma3Tests {
    static let fixture = Repository.path("fixtures/families/gemma3")

    /// A copy of the fixture with `changes` applied to its config.json.
    static func variant(in scratch: ScratchDirectory, _ name: String, _ changes: [String: Any]) throws -> String {
        let directory = scratch.file(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in ["model.safetensors", "generation_config.json"] {
            try FileManager.default.copyItem(atPath: fixture + "/" + file, toPath: directory + "/" + file)
        }
        var config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture + "/config.json"))) as? [String: Any])
        for (key, value) in changes { config[key] = value }
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: directory + "/config.json"))
        return directory
    }

    /// The config llama.cpp's gemma3 reproduces: two sliding layers, scale 1/sqrt(head_dim).
    static let llamaCppConfig: [String: Any] = ["layer_types": ["sliding_attention", "sliding_attention"], "query_pre_attn_scalar": 12]

    @Test func roundTripEqualsTheOriginalUpToTheRoundingOfOnePlusW() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let model = try Self.variant(in: scratch, "model", Self.llamaCppConfig)
        let export = try Processes.loft(["convert", model, scratch.file("g.gguf"), "--dtype", "f32"])
        #expect(export.status == 0, "\(export.stderr)")
        let back = try Processes.loft(["convert", scratch.file("g.gguf"), scratch.file("back")])
        #expect(back.status == 0, "\(back.stderr)")
        // (1 + w) - 1 in float32 is w to within half an ulp of 1 (6e-8); every other tensor is bit-exact.
        let diff = try Processes.loft(["diff", scratch.file("back"), model, "--atol", "6e-8", "--rtol", "0"])
        #expect(diff.stdout.contains("28 tensor(s) compared, 0 differ, 0 missing, 0 extra"), "\(diff.stdout)")
        let exact = try Processes.loft(["diff", scratch.file("back"), model, "--atol", "0", "--rtol", "0"])
        for line in exact.stdout.split(separator: "\n") where line.contains(" F32 ") && !line.hasSuffix("ok") {
            #expect(line.hasPrefix("model.") && line.contains("norm.weight"), "only norms may round: \(line)")
        }
        // The config read back spells out llama.cpp's fixed choices.
        let config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.file("back/config.json")))) as? [String: Any])
        #expect(config["model_type"] as? String == "gemma3_text")
        #expect(config["layer_types"] as? [String] == ["sliding_attention", "sliding_attention"])
        #expect(config["query_pre_attn_scalar"] as? Int == 12)
        #expect(config["sliding_window"] as? Int == 5)
        #expect(config["head_dim"] as? Int == 12)
    }

    @Test func configsLlamaCppWouldRunDifferentlyAreRefused() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let cases: [(String, [String: Any], String)] = [
            ("fixture", [:], "layer types [sliding, full] are not llama.cpp's fixed pattern [sliding, sliding]"),
            ("scale", ["layer_types": ["sliding_attention", "sliding_attention"]], "query_pre_attn_scalar 20.0 gives attention scale"),
            ("local-rope", Self.llamaCppConfig.merging(["rope_parameters": ["full_attention": ["rope_theta": 1e6, "rope_type": "default"],
                                                                            "sliding_attention": ["rope_theta": 5e4, "rope_type": "default"]]]) { $1 },
             "the sliding layers' rope base is 50000.0"),
        ]
        for (name, changes, message) in cases {
            let model = name == "fixture" ? Self.fixture : try Self.variant(in: scratch, name, changes)
            let result = try Processes.loft(["convert", model, scratch.file("\(name).gguf")])
            #expect(result.status == 1, "\(name)")
            #expect(result.stderr.hasPrefix("loft convert: "), "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(result.stderr.contains("llama.cpp's gemma3 would run this model differently"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("\(name).gguf")))
        }
    }

    /// A gemma3 GGUF with a rope scaling loft does not implement (yarn) is refused on the way
    /// back rather than written with default rope. (Linear, which llama.cpp's converter writes
    /// for the 4B+ checkpoints, is read: RopeScalingCommandTests.)
    @Test(.requiresPython("gguf", "numpy")) func unsupportedRopeScalingIsRefusedOnImport() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let model = try Self.variant(in: scratch, "model", Self.llamaCppConfig)
        #expect(try Processes.loft(["convert", model, scratch.file("g.gguf"), "--dtype", "f32"]).status == 0)
        let script = """
            import sys, gguf
            r = gguf.GGUFReader(sys.argv[1])
            w = gguf.GGUFWriter(sys.argv[2], "gemma3")
            for key, field in r.fields.items():
                if key.startswith("GGUF.") or key == "general.architecture": continue
                value = field.contents()
                if isinstance(value, str): w.add_string(key, value)
                elif isinstance(value, float): w.add_float32(key, value)
                elif isinstance(value, int): w.add_uint32(key, value)
            w.add_string("gemma3.rope.scaling.type", "yarn")
            w.add_float32("gemma3.rope.scaling.factor", 8.0)
            for t in r.tensors: w.add_tensor(t.name, t.data.reshape(list(reversed(t.shape.tolist()))))
            w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
            print("ok")
            """
        #expect(try Python.output(script, [scratch.file("g.gguf"), scratch.file("scaled.gguf")]).contains("ok"))
        let plain = try Processes.loft(["convert", scratch.file("g.gguf"), scratch.file("plain")])
        #expect(plain.status == 0, "\(plain.stderr)")
        let result = try Processes.loft(["convert", scratch.file("scaled.gguf"), scratch.file("back")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("gemma3.rope.scaling.type yarn is not supported"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("back")))
    }

    /// Gemma's SentencePiece tokenizer.json is written as llama.cpp's "llama" vocabulary
    /// (the keys: GGUFSentencePieceTests).
    @Test func sentencePieceTokenizerIsCarried() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let model = try Self.variant(in: scratch, "model", Self.llamaCppConfig)
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: Repository.path("fixtures/tokenizers/gemma/" + file), toPath: model + "/" + file)
        }
        let result = try Processes.loft(["convert", model, scratch.file("g.gguf"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("not carried"), "\(result.stdout)")
        let inspect = try Processes.loft(["inspect", scratch.file("g.gguf")])
        #expect(inspect.stdout.contains("tokenizer.ggml.scores"), "\(inspect.stdout)")
        #expect(!inspect.stdout.contains("tokenizer.ggml.merges"), "\(inspect.stdout)")
    }

    /// gguf-py reads the names, the gemma3.* keys, and the norms as 1 + w (everything else as is).
    @Test(.requiresPython("gguf", "numpy", "safetensors")) func ggufPyReadsGemma3() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let model = try Self.variant(in: scratch, "model", Self.llamaCppConfig)
        let export = try Processes.loft(["convert", model, scratch.file("g.gguf"), "--dtype", "f32"])
        #expect(export.status == 0, "\(export.stderr)")
        let script = """
            import sys, numpy as np, gguf
            from safetensors.numpy import load_file
            r = gguf.GGUFReader(sys.argv[1]); src = load_file(sys.argv[2])
            f = lambda k: r.fields[k].contents()
            assert f("general.architecture") == "gemma3"
            want = {"context_length": 64, "embedding_length": 32, "block_count": 2, "feed_forward_length": 48,
                    "attention.head_count": 4, "attention.head_count_kv": 2, "attention.key_length": 12,
                    "attention.value_length": 12, "rope.dimension_count": 12, "attention.sliding_window": 5}
            for k, v in want.items(): assert f("gemma3." + k) == v, (k, f("gemma3." + k))
            assert abs(f("gemma3.rope.freq_base") - 1e6) < 1 and abs(f("gemma3.attention.layer_norm_rms_epsilon") - 1e-5) < 1e-9
            t = {x.name: np.asarray(x.data) for x in r.tensors}
            assert "output.weight" not in t, "tied head"
            names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                     "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
                     "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "post_attention_norm",
                     "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
                     "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
            pairs = [("model.embed_tokens.weight", "token_embd.weight"), ("model.norm.weight", "output_norm.weight")]
            pairs += [(f"model.layers.{i}.{h}.weight", f"blk.{i}.{g}.weight") for i in range(2) for h, g in names.items()]
            assert len(t) == len(pairs) == len(src), (sorted(t), len(src))
            for h, g in pairs:
                w = src[h]
                expected = (w + np.float32(1)) if h.endswith("norm.weight") else w
                assert np.array_equal(t[g].reshape(w.shape), expected), g
            print("ok")
            """
        let output = try Python.output(script, [scratch.file("g.gguf"), model + "/model.safetensors"])
        #expect(output.contains("ok"))
    }
}
