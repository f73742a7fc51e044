// Fine-tuning on a quantized frozen base from the command line: a llama.cpp GGUF (Q8_0 written
// by gguf-py, Q4_K by loft's writer) and an mlx-lm 4-bit directory, held quantized with
// `--base-dtype auto`, train the same adapter as the same file dequantized to float32 (the
// fixture's matrices fit in one tile, so the products are the same sgemm calls on the same
// values, bit for bit); `--base-dtype q4_k` on a float32 model holds what a Q4_K file holds;
// eval and generate take the same bases; the adapter is PEFT's, and converts to llama.cpp's.

import Foundation
import Testing
import TensorIO

@Suite struct QuantizedBaseCommandTests {
    static let folder = Repository.path("fixtures/quantbase")
    static let gguf = folder + "/llama-q8_0.gguf"
    static let hf = folder + "/llama"
    static let tokens = folder + "/tokens.npy"
    static let mlx = Repository.path("fixtures/mlx/llama-q4-g32")

    /// The adapter finetune writes from `base` held as `dtype`.
    func adapter(_ base: String, _ dtype: String, in scratch: ScratchDirectory, data: String = tokens) throws -> Data {
        let out = scratch.file("lora-\(UUID().uuidString)")
        let result = loft("finetune", "--base", base, "--data", data, "--steps", "2", "--seq", "16", "--batch", "2",
                          "--base-dtype", dtype, "--out", out)
        #expect(result.status == 0, "\(base) \(dtype): \(result.stderr)")
        let config = try JSONFile.read(out + "/adapter_config.json")
        #expect(config["peft_type"]?.stringValue == "LORA")
        return try Data(contentsOf: URL(fileURLWithPath: out + "/adapter_model.safetensors"))
    }

    @Test func finetuneOnAGGUFQ8BaseHeldQuantized() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        #expect(try adapter(Self.gguf, "auto", in: scratch) == adapter(Self.gguf, "f32", in: scratch))
    }

    @Test func finetuneOnAGGUFQ4KBaseAndQuantizedAtLoad() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let q4 = scratch.file("llama-q4_k.gguf")
        let convert = loft("convert", Self.hf, q4, "--dtype", "q4_k")
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(loft("inspect", q4).stdout.contains("Q4_K"))
        let held = try adapter(q4, "auto", in: scratch)
        #expect(held == (try adapter(q4, "f32", in: scratch)), "held as Q4_K = dequantized to float32")
        // The same quantizer at load: a row permutation (q/k) moves whole rows of blocks.
        #expect(held == (try adapter(Self.hf, "q4_k", in: scratch)), "--base-dtype q4_k holds what the Q4_K file holds")
    }

    @Test func finetuneOnAnMLXQ4Directory() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        // The model's vocabulary is 100: token ids below it.
        let ids = scratch.file("ids.npy")
        let raw = (0..<300).map { Int32(($0 * 37) % 100) }
        let buffer = raw.withUnsafeBytes { ByteBuffer(copying: $0) }
        try NpyWriter.write(to: ids, tensor: TensorData(info: TensorInfo(name: "ids", dtype: .I32, shape: [raw.count]), buffer: buffer))
        #expect(try adapter(Self.mlx, "auto", in: scratch, data: ids) == adapter(Self.mlx, "f32", in: scratch, data: ids))
    }

    @Test func evalAndGenerateTakeTheGGUFBase() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        var losses: [String] = []
        for dtype in ["auto", "f32", "q8_0"] {
            let result = loft("eval", "--base", Self.gguf, "--data", Self.tokens, "--seq", "16", "--base-dtype", dtype, "--json")
            #expect(result.status == 0, "\(dtype): \(result.stderr)")
            losses.append(result.stdout)
        }
        #expect(losses[0] == losses[1] && losses[0] == losses[2] && losses[0].contains("\"loss\""))
        let out = scratch.file("lora")
        let train = loft("finetune", "--base", Self.gguf, "--data", Self.tokens, "--steps", "2", "--seq", "16", "--batch", "2", "--out", out)
        #expect(train.status == 0, "\(train.stderr)")
        var texts: [String] = []
        for dtype in ["auto", "f32"] {
            let result = loft("generate", "--base", Self.gguf, "--adapter", out, "--prompt", "hello", "--max-tokens", "6",
                              "--temperature", "0", "--base-dtype", dtype, "--json")
            #expect(result.status == 0, "\(dtype): \(result.stderr)")
            texts.append(result.stdout)
        }
        #expect(texts[0] == texts[1] && !texts[0].isEmpty)
        // The adapter names its GGUF base; llama.cpp's adapter format takes it from there.
        let converted = loft("convert", out, scratch.file("lora.gguf"))
        #expect(converted.status == 0, "\(converted.stderr)")
    }

    /// GPT-2 from a Q8_0 GGUF: its projections are stored transposed (llama.cpp's [out, in]),
    /// kept so and multiplied the other way round; text tokenized with the file's tokenizer.
    @Test func evalOfAGPT2GGUFHeldQuantized() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let gguf = scratch.file("gpt2-q8_0.gguf")
        let convert = loft("convert", Repository.path("demo/model"), gguf, "--dtype", "q8_0")
        #expect(convert.status == 0, "\(convert.stderr)")
        let text = scratch.file("text.txt")
        try "He that walketh uprightly walketh surely: but he that perverteth his ways shall be known.\n".write(toFile: text, atomically: true, encoding: .utf8)
        // The transposed product is sgemm with the other operand transposed: the same sums in
        // another order, so equal to float32 rounding rather than bit for bit.
        var losses: [Double] = []
        for dtype in ["auto", "f32"] {
            let result = loft("eval", "--base", gguf, "--data", text, "--seq", "8", "--base-dtype", dtype, "--json")
            #expect(result.status == 0, "\(dtype): \(result.stderr)")
            losses.append(try #require(try JSON.parse(result.stdout)["loss"]?.doubleValue))
        }
        #expect(abs(losses[0] - losses[1]) < 1e-6 * losses[1], "\(losses)")
    }

    /// A quantized tensor whose rows are not whole blocks: one line naming the file and tensor.
    @Test func refusesAQuantizedTensorOfBrokenShape() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Self.gguf))
        // blk.0.ffn_down.weight's innermost dimension (64, after its name and dimension count) -> 48.
        let name = Data("blk.0.ffn_down.weight".utf8)
        let at = try #require(bytes.range(of: name)).upperBound + 4
        #expect(bytes[at] == 64)
        bytes[at] = 48
        let broken = scratch.file("broken.gguf")
        try bytes.write(to: URL(fileURLWithPath: broken))
        let result = loft("finetune", "--base", broken, "--data", Self.tokens, "--steps", "1", "--seq", "16", "--out", scratch.file("out"))
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("loft finetune: \(broken): tensor blk.0.ffn_down.weight: rows of 48 are not whole Q8_0 blocks of 32"), "\(result.stderr)")
    }
}
