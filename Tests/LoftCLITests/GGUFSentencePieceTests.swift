// loft convert writes a SentencePiece-style tokenizer.json (LLaMA 2's Prepend + Replace, Gemma's
// Replace only) as llama.cpp's "llama" vocabulary: tokens, scores from the merge order, the
// token types (unknown, control, byte for <0xNN>), BOS/EOS use and the space prefix.
// That llama.cpp then tokenizes as `tokenizers` does is scripts/check-llamacpp.py's check.

import Foundation
import Testing
import TestSupport

@Suite(.requiresBinary) struct GGUFSentencePieceTests {
    /// A copy of `model` with the fixture tokenizer `tokenizer` beside it.
    static func pair(in scratch: ScratchDirectory, model: String, tokenizer: String) throws -> String {
        let directory = scratch.file(tokenizer)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in ["model.safetensors", "config.json"] {
            try FileManager.default.copyItem(atPath: Repository.path(model + "/" + file), toPath: directory + "/" + file)
        }
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: Repository.path("fixtures/tokenizers/\(tokenizer)/" + file), toPath: directory + "/" + file)
        }
        return directory
    }

    @Test(.requiresPython("gguf", "numpy")) func llama2AndGemmaTokenizersAreWrittenAsLlamaVocabularies() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let llama2 = try Self.pair(in: scratch, model: "fixtures/llama/gqa", tokenizer: "llama2")
        let gemma = try Self.pair(in: scratch, model: "fixtures/families/gemma3", tokenizer: "gemma")
        // llama.cpp's gemma3 reproduces this config (see GGUFGemma3Tests).
        let configURL = URL(fileURLWithPath: gemma + "/config.json")
        var config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        for (key, value) in GGUFGemma3Tests.llamaCppConfig { config[key] = value }
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: configURL)
        for (model, name) in [(llama2, "llama2"), (gemma, "gemma")] {
            let result = try Processes.loft(["convert", model, scratch.file(name + ".gguf")])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!result.stdout.contains("tokenizer.ggml.model = none"), "\(result.stdout)")
        }
        let script = """
            import sys, json, gguf
            d = sys.argv[1]
            def fields(name):
                r = gguf.GGUFReader(d + "/" + name + ".gguf")
                return {k: f.contents() for k, f in r.fields.items() if k.startswith("tokenizer.")}
            for name, bos, eos, unk, pad, prefix in [("llama2", 1, 2, 0, None, True), ("gemma", 2, 1, 3, 0, False)]:
                f = fields(name)
                j = json.load(open(d + "/" + name + "/tokenizer.json"))
                assert f["tokenizer.ggml.model"] == "llama", name
                assert "tokenizer.ggml.merges" not in f, name
                tokens, types, scores = f["tokenizer.ggml.tokens"], f["tokenizer.ggml.token_type"], f["tokenizer.ggml.scores"]
                assert len(tokens) == len(types) == len(scores), name
                for token, id in j["model"]["vocab"].items():
                    assert tokens[id] == token, (name, token)
                    want = 6 if token.startswith("<0x") and len(token) == 6 else 2 if id == unk else 3 if any(a["id"] == id and a["special"] for a in j["added_tokens"]) else 1
                    assert types[id] == want, (name, token, types[id], want)
                # The merge order as scores: each merge's result scores above every later one's.
                merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
                seen = set(); results = []
                for m in merges:
                    t = m.replace(" ", "")
                    if t not in seen: seen.add(t); results.append(t)
                s = [scores[j["model"]["vocab"][t]] for t in results]
                assert all(a > b for a, b in zip(s, s[1:])), name
                assert f["tokenizer.ggml.bos_token_id"] == bos and f["tokenizer.ggml.eos_token_id"] == eos, name
                assert f["tokenizer.ggml.unknown_token_id"] == unk, name
                assert f.get("tokenizer.ggml.padding_token_id") == pad, name
                assert f["tokenizer.ggml.add_bos_token"] is True and f["tokenizer.ggml.add_eos_token"] is False, name
                assert f["tokenizer.ggml.add_space_prefix"] is prefix, name
            print("ok")
            """
        let output = try Python.output(script, [scratch.path])
        #expect(output.contains("ok"))
    }

    /// GGUF back to a model directory: the "llama" vocabulary becomes a tokenizer.json (merges
    /// rebuilt from the scores) giving the original's ids on every fixture text.
    @Test(.requiresPython("tokenizers")) func llamaVocabularyImportsAsAnEquivalentTokenizer() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let llama2 = try Self.pair(in: scratch, model: "fixtures/llama/gqa", tokenizer: "llama2")
        let gemma = try Self.pair(in: scratch, model: "fixtures/families/gemma3", tokenizer: "gemma")
        let configURL = URL(fileURLWithPath: gemma + "/config.json")
        var config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        for (key, value) in GGUFGemma3Tests.llamaCppConfig { config[key] = value }
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: configURL)
        for name in ["llama2", "gemma"] {
            let there = try Processes.loft(["convert", scratch.file(name), scratch.file(name + ".gguf")])
            #expect(there.status == 0, "\(there.stderr)")
            let back = try Processes.loft(["convert", scratch.file(name + ".gguf"), scratch.file(name + "-back")])
            #expect(back.status == 0, "\(back.stderr)")
        }
        let script = """
            import sys, json, tokenizers
            d, fixtures = sys.argv[1], sys.argv[2]
            for name in ["llama2", "gemma"]:
                a = tokenizers.Tokenizer.from_file(f"{d}/{name}/tokenizer.json")
                b = tokenizers.Tokenizer.from_file(f"{d}/{name}-back/tokenizer.json")
                texts = [c["text"] for c in json.load(open(f"{fixtures}/{name}-expected.json"))["cases"]]
                for t in texts:
                    assert a.encode(t).ids == b.encode(t).ids, (name, t)
                    assert a.decode(a.encode(t).ids) == b.decode(b.encode(t).ids), (name, t)
            print("ok")
            """
        let output = try Python.output(script, [scratch.path, Repository.path("fixtures/tokenizers")])
        #expect(output.contains("ok"))
    }

    /// A SentencePiece pipeline llama.cpp would not reproduce (here an NFKC normalizer): the
    /// model is written to run on token ids, and a note says why.
    @Test func unsupportedPipelineIsWrittenWithoutTokenizer() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let model = try Self.pair(in: scratch, model: "fixtures/llama/gqa", tokenizer: "llama2")
        let url = URL(fileURLWithPath: model + "/tokenizer.json")
        var json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var normalizer = try #require(json["normalizer"] as? [String: Any])
        normalizer["normalizers"] = (normalizer["normalizers"] as? [Any] ?? []) + [["type": "NFKC"]]
        json["normalizer"] = normalizer
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        let result = try Processes.loft(["convert", model, scratch.file("m.gguf")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("the tokenizer is not carried"), "\(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("NFKC"))
        let inspect = try Processes.loft(["inspect", scratch.file("m.gguf")])
        #expect(!inspect.stdout.contains("tokenizer.ggml.scores"), "\(inspect.stdout)")
    }
}
