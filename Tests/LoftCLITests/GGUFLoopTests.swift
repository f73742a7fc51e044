// A llama.cpp user's loop on a GGUF base (fixtures/quantbase: a tiny LLaMA, Q8_0 as gguf-py
// writes it): `loft finetune --base model.gguf` writes llama.cpp's LoRA adapter beside the
// PEFT one, the same file `loft convert RUN adapter.gguf` writes; `loft merge --base
// model.gguf --out merged.gguf` keeps the base's types, its unchanged tensors byte for byte
// and its tokenizer; a failed merge leaves nothing behind; and, when llama-cpp-python is
// installed, llama.cpp computes with base + adapter.gguf what loft eval and loft merge do.

import Foundation
import Testing
import TensorIO

@Suite struct GGUFLoopTests {
    static let folder = Repository.path("fixtures/quantbase")
    static let gguf = folder + "/llama-q8_0.gguf"
    static let hf = folder + "/llama"
    static let tokens = folder + "/tokens.npy"

    /// `loft finetune` on `base` into `out`; its --json summary.
    @discardableResult
    func finetune(_ base: String, _ out: String, _ extra: [String] = []) throws -> JSONValue {
        let result = loft(["finetune", "--base", base, "--data", Self.tokens, "--steps", "3", "--seq", "16", "--batch", "2",
                           "--lr", "1e-2", "--out", out, "--json"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return try JSON.parse(result.stdout)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func finetuneOnAGGUFBaseWritesTheConvertersAdapter() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let run = scratch.file("run")
        let summary = try finetune(Self.gguf, run)
        let written = run + "/adapter.gguf"
        #expect(summary["gguf_adapter"]?.stringValue == written)
        #expect(summary["files"]?.arrayValue?.contains { $0.stringValue == written } == true)
        #expect(PathStatus.exists(run + "/adapter_model.safetensors"), "the PEFT adapter stays")
        // The same converter, the same inputs: the same file, byte for byte.
        let converted = scratch.file("converted.gguf")
        let convert = loft("convert", run, converted)
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(try bytes(written) == bytes(converted))
        let header = try GGUFReader(path: written).header
        #expect(header.value("general.type")?.stringValue == "adapter")
        #expect(header.tensors.count == 14, "7 projections x (lora_a, lora_b)")
        // The text summary names the file and how llama.cpp loads it.
        let text = loft("finetune", "--base", Self.gguf, "--data", Self.tokens, "--steps", "1", "--seq", "16", "--batch", "2",
                        "--out", run, "--overwrite")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("llama.cpp: llama-cli -m \(Self.gguf) --lora \(written)"), "\(text.stdout)")
        // The llama.cpp file given where loft wants the adapter: the message names the directory.
        let misnamed = loft("eval", "--base", Self.gguf, "--adapter", written, "--data", Self.tokens, "--seq", "16")
        #expect(misnamed.status == 1)
        #expect(misnamed.stderr.contains("\(written): a .gguf file, not an adapter directory"), "\(misnamed.stderr)")
        #expect(misnamed.stderr.contains("give its directory, \(run))"), "\(misnamed.stderr)")
    }

    @Test func finetuneOnADirectoryBaseWritesNoGGUFAdapter() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let run = scratch.file("run")
        try finetune(Self.gguf, run)
        #expect(PathStatus.exists(run + "/adapter.gguf"))
        // Over a GGUF run's directory: its adapter.gguf would not match the new adapter.
        let summary = try finetune(Self.hf, run, ["--overwrite"])
        #expect(summary["gguf_adapter"] == .null)
        #expect(!PathStatus.exists(run + "/adapter.gguf"))
    }

    /// A full fine-tune (adamw) of a GGUF base is a model directory with the file's own
    /// tokenizer (not files that happen to lie beside the .gguf), so `loft convert RUN
    /// model.gguf` gives llama.cpp a file with its tokenizer.
    @Test func fullFinetuneOfAGGUFBaseKeepsItsTokenizer() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let folder = scratch.file("models")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let base = folder + "/llama-q8_0.gguf"
        try FileManager.default.copyItem(atPath: Self.gguf, toPath: base)
        try #"{"not": "this model's tokenizer"}"#.write(toFile: folder + "/tokenizer.json", atomically: true, encoding: .utf8)
        let run = scratch.file("run")
        let summary = try finetune(base, run, ["--optimizer", "adamw", "--targets", "q_proj"])
        #expect(summary["gguf_adapter"] == .null)
        let imported = scratch.file("imported")
        #expect(loft("convert", Self.gguf, imported).status == 0)
        #expect(try JSONFile.read(run + "/tokenizer.json") == JSONFile.read(imported + "/tokenizer.json"))
        let model = scratch.file("model.gguf")
        let convert = loft("convert", run, model, "--dtype", "q8_0")
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(try GGUFReader(path: model).header.value("tokenizer.ggml.model")?.stringValue == "gpt2")
    }

    /// Without --dtype every tensor keeps the base's type; the ones no adapter touches are
    /// the base's bytes; the tokenizer is the base's. With --dtype f32 the merged model
    /// computes what base + adapter computes.
    @Test func mergeOntoAGGUFBase() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let run = scratch.file("run")
        try finetune(Self.gguf, run, ["--targets", "q_proj,down_proj"])
        let merged = scratch.file("merged.gguf")
        let merge = loft("merge", "--base", Self.gguf, "--adapter", run, "--out", merged)
        #expect(merge.status == 0, "\(merge.stderr)")
        let base = try GGUFReader(path: Self.gguf), out = try GGUFReader(path: merged)
        #expect(Set(out.header.tensors.map(\.name)) == Set(base.header.tensors.map(\.name)))
        var same = 0
        for entry in out.header.tensors {
            let original = try #require(base.entry(entry.name))
            #expect(entry.type == original.type, "\(entry.name): \(entry.type) vs \(original.type)")
            let changed = entry.name.hasSuffix("attn_q.weight") || entry.name.hasSuffix("ffn_down.weight")
            let equal = Array(try out.storedData(for: entry.name)) == Array(try base.storedData(for: entry.name))
            #expect(equal != changed, "\(entry.name)")
            if equal { same += 1 }
        }
        #expect(same == base.header.tensors.count - 2)
        for (key, value) in base.header.metadata where key.hasPrefix("tokenizer.") || key == "general.file_type" {
            #expect(out.header.value(key) == value, "\(key)")
        }
        // Float32: the merged weights are base + delta, so the loss is base + adapter's.
        let f32 = scratch.file("merged-f32.gguf")
        let mergeF32 = loft("merge", "--base", Self.gguf, "--adapter", run, "--out", f32, "--dtype", "f32")
        #expect(mergeF32.status == 0, "\(mergeF32.stderr)")
        func loss(_ arguments: String...) throws -> Double {
            let result = loft(["eval", "--data", Self.tokens, "--seq", "16", "--json"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSON.parse(result.stdout)["loss"]?.doubleValue)
        }
        let adapted = try loss("--base", Self.gguf, "--adapter", run)
        #expect(abs(try loss("--base", f32) - adapted) < 1e-5 * adapted)
        #expect(abs(try loss("--base", Self.gguf) - adapted) > 1e-4, "the adapter changes the loss")
        // Q8_0 again: within the requantization of the two merged matrices.
        #expect(abs(try loss("--base", merged) - adapted) < 1e-2 * adapted)
    }

    /// A directory OUT from a GGUF base is a Hugging Face model directory: config.json and
    /// tokenizer.json from the metadata (as `loft convert model.gguf DIR`), the merged weights
    /// dequantized; it computes what base + adapter computes.
    @Test func mergeOfAGGUFBaseIntoADirectory() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let run = scratch.file("run")
        try finetune(Self.gguf, run)
        let merged = scratch.file("merged")
        let merge = loft("merge", "--base", Self.gguf, "--adapter", run, "--out", merged)
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: merged).sorted() == ["config.json", "model.safetensors", "tokenizer.json"])
        let imported = scratch.file("imported")
        #expect(loft("convert", Self.gguf, imported).status == 0)
        #expect(try JSONFile.read(merged + "/config.json") == JSONFile.read(imported + "/config.json"))
        #expect(try JSONFile.read(merged + "/tokenizer.json") == JSONFile.read(imported + "/tokenizer.json"))
        var losses: [Double] = []
        for arguments in [["--base", merged], ["--base", Self.gguf, "--adapter", run]] {
            let result = loft(["eval", "--data", Self.tokens, "--seq", "16", "--json"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            losses.append(try #require(try JSON.parse(result.stdout)["loss"]?.doubleValue))
        }
        #expect(abs(losses[0] - losses[1]) < 1e-5 * losses[1], "\(losses)")
    }

    /// An adapter on the head of a base that ties it to the embedding: the merge writes an
    /// output.weight of its own, in the embedding's type, and the embedding as stored.
    @Test(.requiresPython("numpy", "safetensors"))
    func mergeUntiesTheHeadInTheEmbeddingsType() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let adapter = scratch.file("head")
        try FileManager.default.createDirectory(atPath: adapter, withIntermediateDirectories: true)
        try Python.output("""
            import sys, json, numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(1)
            save_file({"base_model.model.lm_head.lora_A.weight": rng.standard_normal((4, 256)).astype(np.float32) * 0.1,
                       "base_model.model.lm_head.lora_B.weight": rng.standard_normal((256, 4)).astype(np.float32) * 0.1},
                      sys.argv[1] + "/adapter_model.safetensors", metadata={"format": "pt"})
            json.dump({"peft_type": "LORA", "r": 4, "lora_alpha": 4, "target_modules": ["lm_head"]}, open(sys.argv[1] + "/adapter_config.json", "w"))
            """, [adapter])
        let merged = scratch.file("merged.gguf")
        let merge = loft("merge", "--base", Self.gguf, "--adapter", adapter, "--out", merged)
        #expect(merge.status == 0, "\(merge.stderr)")
        let base = try GGUFReader(path: Self.gguf), out = try GGUFReader(path: merged)
        #expect(base.entry("output.weight") == nil)
        #expect(out.entry("output.weight")?.type == base.entry("token_embd.weight")?.type)
        #expect(Array(try out.storedData(for: "token_embd.weight")) == Array(try base.storedData(for: "token_embd.weight")))
    }

    /// A Q4_K_M base (Q4_K, Q6_K, Q5_0 fallbacks, Q8_0, F32) keeps every tensor's type.
    @Test func mergeKeepsAQ4KMMixture() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let base = scratch.file("q4_k_m.gguf")
        #expect(loft("convert", Self.hf, base, "--dtype", "q4_k_m").status == 0)
        let run = scratch.file("run")
        try finetune(base, run)
        let merged = scratch.file("merged.gguf")
        let merge = loft("merge", "--base", base, "--adapter", run, "--out", merged)
        #expect(merge.status == 0, "\(merge.stderr)")
        let types = { (path: String) in try GGUFReader(path: path).header.tensors.map { "\($0.name) \($0.type)" }.sorted() }
        #expect(try types(merged) == types(base))
        #expect(Set(try GGUFReader(path: base).header.tensors.map(\.type)).count >= 3, "a mixture")
    }

    /// A base holding a type loft does not write (Q3_K here) cannot keep its types: refused
    /// before anything is written, naming the tensor and --dtype; with --dtype it merges.
    @Test(.requiresPython("gguf", "numpy"))
    func mergeRefusesToKeepATypeLoftDoesNotWrite() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let base = scratch.file("q3.gguf")
        try Python.output("""
            import sys, numpy as np, gguf
            src = gguf.GGUFReader(sys.argv[1])
            out = gguf.GGUFWriter(sys.argv[2], "llama")
            for field in src.fields.values():
                if field.name.startswith("GGUF.") or field.name == "general.architecture": continue
                value = field.contents()
                vtype = field.types[0]
                if vtype == gguf.GGUFValueType.ARRAY:
                    out.add_key_value(field.name, value, vtype, sub_type=field.types[-1])
                else:
                    out.add_key_value(field.name, value, vtype)
            for t in src.tensors:
                if t.name == "blk.0.ffn_gate.weight":
                    # 64 rows of 256: one Q3_K super-block (110 bytes) a row, finite scales.
                    rows = np.zeros((64, 110), dtype=np.uint8)
                    out.add_tensor(t.name, rows, raw_dtype=gguf.GGMLQuantizationType.Q3_K)
                else:
                    out.add_tensor(t.name, np.array(t.data), raw_dtype=t.tensor_type)
            out.write_header_to_file(); out.write_kv_data_to_file(); out.write_tensors_to_file(); out.close()
            """, [GGUFLoopTests.gguf, base])
        #expect(loft("inspect", base).stdout.contains("Q3_K"))
        let run = scratch.file("run")
        try finetune(Self.gguf, run, ["--targets", "q_proj"])
        let out = scratch.file("merged.gguf")
        let refused = loft("merge", "--base", base, "--adapter", run, "--out", out)
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("loft merge: \(base): tensor blk.0.ffn_gate.weight is stored as Q3_K, a type loft does not write; give the merged file's type with --dtype"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == ["q3.gguf", "run"])
        let merged = loft("merge", "--base", base, "--adapter", run, "--out", out, "--dtype", "q8_0")
        #expect(merged.status == 0, "\(merged.stderr)")
    }

    /// A merge that fails (an adapter of another model) leaves the existing OUT as it was and
    /// nothing beside it.
    @Test func aFailedMergeTouchesNothing() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let out = scratch.file("merged.gguf")
        try "keep me".write(toFile: out, atomically: true, encoding: .utf8)
        let before = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        let other = Repository.path("fixtures/llama/gqa/adapter")
        let result = loft("merge", "--base", Self.gguf, "--adapter", other, "--out", out, "--overwrite")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("loft merge: "), "\(result.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "keep me")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted() == before)
    }
}

/// llama.cpp (llama-cpp-python) on a float32 GGUF base with the adapter.gguf finetune wrote:
/// its logits against llama.cpp on `loft merge --dtype f32`'s merged file, and its mean
/// cross-entropy against `loft eval --base BASE.gguf --adapter RUN` (2e-3 of the logits'
/// range, as scripts/check-llamacpp.py; the loss to 1e-4 relative).
@Suite(.requiresBinary) struct GGUFLoopLlamaCppTests {
    /// LLaMA (q/k rows permuted for llama.cpp's rotary) and GPT-2 (Conv1D weights transposed,
    /// fused c_attn).
    @Test(.requiresPython("llama_cpp", "numpy"), arguments: ["fixtures/quantbase/llama", "demo/model"])
    func llamaCppRunsTheFinetunedAdapter(model: String) throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let base = scratch.file("base-f32.gguf")
        let convert = loft("convert", Repository.path(model), base, "--dtype", "f32")
        #expect(convert.status == 0, "\(convert.stderr)")
        // 600 token ids below both vocabularies; two chunks of 16 are loft eval's windows
        // and llama.cpp's rows.
        let data = scratch.file("tokens.npy"), chunk = scratch.file("chunk.npy")
        try Python.output("""
            import sys, numpy as np
            ids = (np.arange(600) * 37 % 251).astype(np.int32)
            np.save(sys.argv[1], ids); np.save(sys.argv[2], ids[:32])
            """, [data, chunk])
        let run = scratch.file("run")
        let train = loft("finetune", "--base", base, "--data", data, "--steps", "4", "--seq", "16", "--batch", "2",
                         "--lr", "1e-2", "--out", run)
        #expect(train.status == 0, "\(train.stderr)")
        let merged = scratch.file("merged.gguf")
        let merge = loft("merge", "--base", base, "--adapter", run, "--out", merged, "--dtype", "f32")
        #expect(merge.status == 0, "\(merge.stderr)")
        let eval = loft("eval", "--base", base, "--adapter", run, "--data", chunk, "--seq", "16", "--json")
        #expect(eval.status == 0, "\(eval.stderr)")
        let loss = try #require(try JSON.parse(eval.stdout)["loss"]?.doubleValue)
        let output = try Python.output("""
            import sys, json, numpy as np
            from llama_cpp import Llama
            base, adapter, merged, chunk = sys.argv[1:5]
            rows = np.load(chunk).reshape(2, 16)
            def logits(path, lora=None):
                options = dict(model_path=path, n_ctx=64, logits_all=True, verbose=False, n_threads=2, seed=0)
                if lora: options["lora_path"] = lora
                llm = Llama(**options)
                out = []
                for row in rows:
                    llm.reset(); llm.eval([int(t) for t in row])
                    out.append(np.array(llm.scores[:len(row)], dtype=np.float64))
                return np.stack(out)
            adapted, folded, plain = logits(base, adapter), logits(merged), logits(base)
            spread = float(folded.max() - folded.min())
            shifted = adapted - adapted.max(-1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
            nll = -np.take_along_axis(logp[:, :-1], rows[:, 1:, None].astype(np.int64), -1).mean()
            print(json.dumps(dict(adapter_vs_merged=float(np.abs(adapted - folded).max()) / spread,
                                  adapter_effect=float(np.abs(adapted - plain).max()) / spread, loss=float(nll))))
            """, [base, run + "/adapter.gguf", merged, chunk])
        let result = try JSON.parse(output.split(separator: "\n").last.map(String.init) ?? "")
        let difference = try #require(result["adapter_vs_merged"]?.doubleValue)
        let effect = try #require(result["adapter_effect"]?.doubleValue)
        let llamaLoss = try #require(result["loss"]?.doubleValue)
        #expect(difference <= 2e-3, "llama.cpp base + adapter.gguf vs merged: \(difference)")
        #expect(effect > 10 * 2e-3, "the adapter changes llama.cpp's logits: \(effect)")
        #expect(abs(llamaLoss - loss) <= 1e-4 * loss, "llama.cpp \(llamaLoss) vs loft eval \(loss)")
    }
}
