// loft convert / merge / inspect on GGUF: files loft writes are read by gguf-py (llama.cpp's
// own reader) with the names, types, shapes and bytes llama.cpp's converter would give; the
// way back to a Hugging Face directory is exact for F32; refusals are one line.

import Foundation
import Testing
import TestSupport

@Suite(.requiresBinary) struct GGUFCommandTests {
    static let demo = Repository.path("demo/model")
    static let llama = Repository.path("fixtures/llama/gqa")

    @discardableResult
    func loft(_ arguments: String...) throws -> ProcessResult {
        let result = try Processes.loft(arguments)
        #expect(result.status == 0, "loft \(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    @Test func convertToGGUFAndBackIsExactInF32() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        for (model, name) in [(Self.demo, "gpt2"), (Self.llama, "llama")] {
            try loft("convert", model, scratch.file("\(name).gguf"), "--dtype", "f32")
            try loft("convert", scratch.file("\(name).gguf"), scratch.file("\(name)-back"))
            let diff = try loft("diff", model, scratch.file("\(name)-back"))
            #expect(diff.stdout.contains("0 differ, 0 missing, 0 extra"), "\(name): \(diff.stdout)")
        }
        #expect(FileManager.default.fileExists(atPath: scratch.file("gpt2-back/tokenizer.json")))
    }

    @Test func inspectShowsStoredTypes() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try loft("convert", Self.demo, scratch.file("m.gguf"), "--dtype", "q4_k_m")
        let text = try loft("inspect", scratch.file("m.gguf")).stdout
        #expect(text.contains("stored"))
        #expect(text.contains("tokenizer.ggml.model"))
        #expect(text.contains("Q5_0") || text.contains("Q4_K"), "\(text)")
    }

    @Test func quantizedRecipeNeedsAGGUFOutput() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let result = try Processes.loft(["convert", Self.demo, scratch.file("x.safetensors"), "--dtype", "q8_0"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("GGUF type"), "\(result.stderr)")
    }

    @Test func hostileGGUFIsRefusedByInspect() throws {
        let result = try Processes.loft(["inspect", Repository.path("fixtures/gguf/hostile/huge-array-count.gguf")])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("loft inspect: "), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    /// gguf-py reads what loft wrote: names, types, shapes as llama.cpp's converter makes them;
    /// Q8_0 bytes equal gguf.quants.quantize of the (transposed) source; LLaMA's q/k equal
    /// convert_hf_to_gguf's permute; the merged file and the adapter file are readable too.
    @Test(.requiresPython("gguf", "numpy", "safetensors")) func ggufPyReadsLoftFiles() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try loft("convert", Self.demo, scratch.file("gpt2.gguf"), "--dtype", "q8_0")
        try loft("convert", Self.llama, scratch.file("llama.gguf"), "--dtype", "f32")
        try loft("convert", Self.llama + "/adapter", scratch.file("adapter.gguf"))
        try loft("merge", "--base", Self.llama, "--adapter", Self.llama + "/adapter", "--out", scratch.file("merged.gguf"), "--dtype", "q8_0")
        let script = """
            import sys, numpy as np, gguf
            from safetensors.numpy import load_file
            d = sys.argv[1]; demo = sys.argv[2]; llama = sys.argv[3]
            r = gguf.GGUFReader(d + "/gpt2.gguf")
            t = {x.name: x for x in r.tensors}
            assert r.fields["general.architecture"].contents() == "gpt2"
            assert r.fields["tokenizer.ggml.model"].contents() == "gpt2"
            assert r.fields["tokenizer.ggml.pre"].contents() == "gpt-2"
            assert len(r.fields["tokenizer.ggml.tokens"].contents()) == 512
            assert t["blk.0.attn_qkv.weight"].tensor_type == gguf.GGMLQuantizationType.Q8_0
            assert t["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32
            src = load_file(demo + "/model.safetensors")
            want = gguf.quants.quantize(src["transformer.h.0.attn.c_attn.weight"].T.copy(), gguf.GGMLQuantizationType.Q8_0)
            assert np.array_equal(np.asarray(t["blk.0.attn_qkv.weight"].data).reshape(-1), want.reshape(-1)), "q8_0 bytes"
            r = gguf.GGUFReader(d + "/llama.gguf")
            t = {x.name: x for x in r.tensors}
            src = load_file(llama + "/model.safetensors")
            def permute(w, n_head):
                return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
            q = np.asarray(t["blk.0.attn_q.weight"].data).reshape(32, 32)
            k = np.asarray(t["blk.0.attn_k.weight"].data).reshape(16, 32)
            assert np.array_equal(q, permute(src["model.layers.0.self_attn.q_proj.weight"], 4)), "q permutation"
            assert np.array_equal(k, permute(src["model.layers.0.self_attn.k_proj.weight"], 2)), "k permutation"
            assert r.fields["llama.attention.head_count_kv"].contents() == 2
            a = gguf.GGUFReader(d + "/adapter.gguf")
            assert a.fields["general.type"].contents() == "adapter" and a.fields["adapter.type"].contents() == "lora"
            assert any(x.name == "blk.0.attn_q.weight.lora_a" for x in a.tensors)
            m = gguf.GGUFReader(d + "/merged.gguf")
            assert {x.name for x in m.tensors} == set(t), "merged names"
            print("ok")
            """
        let output = try Python.output(script, [scratch.path, Self.demo, Self.llama])
        #expect(output.contains("ok"))
    }
}

/// llama.cpp itself runs loft's GGUF files (scripts/check-llamacpp.py: F32/F16 logits within
/// 2e-3 of the logits' range of transformers', Q8_0 the same top token at >= 90% of
/// positions, Q4_K_M loads; Gemma 3 F32/F16/Q8_0 on a config llama.cpp's gemma3 reproduces;
/// merged GGUF and base + GGUF LoRA adapter agree with PEFT; SentencePiece tokenizers written
/// as "llama" vocabularies give `tokenizers`' ids on the LLaMA 2 and Gemma fixture texts;
/// rope scaling, fixtures/rope: llama3 as rope_freqs.weight, linear for LLaMA and Gemma 3's
/// global layers, within 5e-4 of transformers' logit range on 64 tokens).
@Suite(.requiresBinary) struct LlamaCppCheckTests {
    @Test(.requiresPython("llama_cpp", "torch", "transformers", "safetensors"))
    func llamaCppRunsLoftOutput() throws {
        let result = try #require(Python.runScript("scripts/check-llamacpp.py", mergeStandardError: false))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("checks passed"), "\(result.output)")
    }
}
