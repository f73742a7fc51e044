// MLX-quantized checkpoints through the commands: `loft convert --dtype mlx-q4` writes what
// mlx-lm's quantize_model and save write (tensors byte for byte, config.json and the index
// text); every reader dequantizes as mx.dequantize does (convert, inspect's stored form,
// merge into a quantized base); malformed checkpoints and options are refused in one line.
// The references are fixtures/mlx (fixtures/generators/mlx_fixtures.py, mlx and mlx-lm).

import Foundation
import Testing
import TensorIO

@Suite struct MLXCommandTests {
    static func fixture(_ name: String) -> String { Repository.path("fixtures/mlx/" + name) }

    /// A model directory with the LLaMA fixture's weights in `weights` and its config.
    static func modelDirectory(_ scratch: ScratchDirectory, _ name: String, weights: String, config: String? = nil) throws -> String {
        let directory = scratch.file(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: weights, toPath: directory + "/model.safetensors")
        try FileManager.default.copyItem(atPath: config ?? Repository.path("fixtures/adapters/llama-config.json"), toPath: directory + "/config.json")
        return directory
    }

    func expectSameTensors(_ mine: String, _ theirs: String, _ context: String) throws {
        let a = try tensorsOf(mine), b = try tensorsOf(theirs)
        #expect(Set(a.keys) == Set(b.keys), "\(context): names")
        for (name, (info, bytes)) in b {
            #expect(a[name]?.0.dtype == info.dtype && a[name]?.0.shape == info.shape && a[name]?.1 == bytes, "\(context): \(name)")
        }
    }

    func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func convertWritesWhatMLXLMWrites() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let base = try Self.modelDirectory(scratch, "base", weights: Repository.path("fixtures/adapters/llama-base.safetensors"))
        let result = loft("convert", base, scratch.file("q4"), "--dtype", "mlx-q4", "--group-size", "32")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("16 of 53 tensors quantized"), "\(result.stdout)")
        let reference = Self.fixture("llama-q4-g32")
        try expectSameTensors(scratch.file("q4/model.safetensors"), reference + "/model.safetensors", "mlx-q4")
        #expect(try text(scratch.file("q4/config.json")) == text(reference + "/config.json"))
        #expect(try text(scratch.file("q4/model.safetensors.index.json")) == text(reference + "/model.safetensors.index.json"))
        let metadata = try TensorFile.open(scratch.file("q4/model.safetensors")).metadata
        #expect(metadata.map(\.key) == ["format"] && metadata.first?.value == "mlx")
    }

    @Test func everyReaderSeesTheDequantizedWeights() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        for (model, dense) in [("llama-q4-g32", "llama-dequantized-q4-g32.safetensors"), ("llama-mixed", "llama-dequantized-mixed.safetensors")] {
            let out = scratch.file("\(model).safetensors")
            let result = loft("convert", Self.fixture(model), out)
            #expect(result.status == 0, "\(result.stderr)")
            try expectSameTensors(out, Self.fixture(dense), model)
        }
    }

    @Test func inspectShowsTheStoredForm() throws {
        let result = loft("inspect", Self.fixture("llama-mixed"))
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("model.layers.0.mlp.down_proj.weight") && $0.contains("mlx-q8/g64") && $0.contains("[32, 64]") })
        #expect(lines.contains { $0.contains("model.embed_tokens.weight") && $0.contains("mlx-q4/g32") && $0.contains("[100, 32]") })
        #expect(lines.contains { $0.hasPrefix("lm_head.weight") && !$0.contains("mlx-") })
        #expect(!result.stdout.contains(".scales") && !result.stdout.contains(".biases"))
    }

    /// A LoRA merged into the quantized base equals the same LoRA merged into mlx's
    /// dequantization of it; the merged directory's config.json is a dense model's.
    @Test func mergeIntoAQuantizedBase() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let adapter = Repository.path("fixtures/adapters/mlx-llama-lora")
        let dense = try Self.modelDirectory(scratch, "dense", weights: Self.fixture("llama-dequantized-q4-g32.safetensors"))
        for (base, out) in [(Self.fixture("llama-q4-g32"), "from-quantized"), (dense, "from-dense")] {
            let result = loft("merge", "--base", base, "--adapter", adapter, "--out", scratch.file(out))
            #expect(result.status == 0, "\(result.stderr)")
        }
        try expectSameTensors(scratch.file("from-quantized/model.safetensors"), scratch.file("from-dense/model.safetensors"), "merge")
        let config = try text(scratch.file("from-quantized/config.json"))
        #expect(!config.contains("quantization") && config.contains("\"model_type\": \"llama\""))
    }

    /// eval and finetune on the quantized base compute what they compute on mlx's
    /// dequantization of it: the same loss, the same trained adapter bytes.
    @Test func evalAndFinetuneOnAQuantizedBase() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let dense = try Self.modelDirectory(scratch, "dense", weights: Self.fixture("llama-dequantized-q4-g32.safetensors"))
        let tokens = ByteBuffer(count: 200 * 4)
        for i in 0..<200 { tokens.bytes.storeBytes(of: Int32(i * 7 % 100).littleEndian, toByteOffset: 4 * i, as: Int32.self) }
        try NpyWriter.write(to: scratch.file("tokens.npy"), tensor: TensorData(info: TensorInfo(name: "tokens", dtype: .I32, shape: [200]), buffer: tokens))
        var losses: [String] = []
        for base in [Self.fixture("llama-q4-g32"), dense] {
            let result = loft("eval", "--base", base, "--data", scratch.file("tokens.npy"), "--seq", "32", "--json")
            #expect(result.status == 0, "\(result.stderr)")
            losses.append(result.stdout)
        }
        #expect(losses[0] == losses[1] && losses[0].contains("\"loss\""))
        for (base, out) in [(Self.fixture("llama-q4-g32"), "ft-quantized"), (dense, "ft-dense")] {
            let result = loft("finetune", "--base", base, "--data", scratch.file("tokens.npy"), "--steps", "2", "--seq", "32", "--out", scratch.file(out))
            #expect(result.status == 0, "\(result.stderr)")
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: scratch.file("ft-quantized/adapter_model.safetensors")))
        let b = try Data(contentsOf: URL(fileURLWithPath: scratch.file("ft-dense/adapter_model.safetensors")))
        #expect(a == b)
    }

    @Test func refusesBadOptions() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let model = Self.fixture("llama-q4-g32")
        for (arguments, words) in [
            (["convert", model, scratch.file("o"), "--dtype", "mlx-q4", "--group-size", "48"], "--group-size must be one of 32, 64, 128"),
            (["convert", model, scratch.file("o.safetensors"), "--dtype", "mlx-q8"], "writes a model directory"),
            (["convert", model, scratch.file("o"), "--group-size", "64"], "--group-size needs --dtype mlx-q"),
            (["convert", model, scratch.file("o"), "--dtype", "mlx-q4", "--include", "lm_head"], "--include converts tensor files; it does not apply with --dtype mlx-q4"),
            (["convert", model, scratch.file("o"), "--dtype", "mlx-q7"], "--dtype"),
            (["merge", "--base", model, "--adapter", Repository.path("fixtures/adapters/mlx-llama-lora"), "--out", scratch.file("m"), "--dtype", "mlx-q4"],
             "merge writes dense weights"),
        ] {
            let result = loft(arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(words), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o")))
    }

    /// Hostile MLX checkpoints: the quantized fixture with one thing broken each.
    @Test func refusesMalformedCheckpoints() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let reference = Self.fixture("llama-q4-g32")
        let reader = try TensorFile.open(reference + "/model.safetensors")
        let tensors = try reader.tensors.map { try reader.data(for: $0.name) }
        let config = try text(reference + "/config.json")
        let q = "model.layers.0.self_attn.q_proj"
        func replaced(_ name: String, dtype: DType? = nil, shape: [Int]) -> [TensorData] {
            tensors.map { tensor in
                guard tensor.info.name == name else { return tensor }
                let info = TensorInfo(name: name, dtype: dtype ?? tensor.info.dtype, shape: shape)
                return TensorData(info: info, buffer: ByteBuffer(count: info.byteCount))
            }
        }
        let cases: [(String, [TensorData], String, String)] = [
            ("scales-shape", replaced(q + ".scales", shape: [32, 2]), config, "\(q).weight: 4 packed words per row, 4 bits, group size 32 and 2 groups per row need 8"),
            ("scales-rows", replaced(q + ".scales", shape: [16, 1]), config, "\(q).scales: shape [16, 1] does not match"),
            ("packed-size", replaced(q + ".weight", shape: [32, 5]), config, "\(q).weight: 5 packed words per row"),
            ("biases-dtype", replaced(q + ".biases", dtype: .F16, shape: [32, 1]), config, "\(q).biases: dtype F16 differs"),
            ("biases-shape", replaced(q + ".biases", shape: [32, 2]), config, "\(q).biases: shape [32, 2] differs"),
            ("scales-int", replaced(q + ".scales", dtype: .I32, shape: [32, 1]), config, "\(q).scales: dtype I32"),
            ("missing-biases", tensors.filter { $0.info.name != q + ".biases" }, config, "without \(q).biases"),
            ("bits-7", tensors, config.replacingOccurrences(of: "\"bits\": 4", with: "\"bits\": 7"), "quantization.bits 7 is not one of"),
            ("bits-wrong", tensors, config.replacingOccurrences(of: "\"bits\": 4", with: "\"bits\": 8"), "packed words per row, 8 bits"),
            ("mode", tensors, config.replacingOccurrences(of: "\"affine\"", with: "\"mxfp4\""), "mode \"mxfp4\" is not supported"),
        ]
        for (name, contents, configText, words) in cases {
            let directory = scratch.file(name)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try SafetensorsWriter.write(to: directory + "/model.safetensors", tensors: contents, metadata: [("format", "mlx")])
            try configText.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
            for command in [["inspect", directory], ["convert", directory, scratch.file(name + ".safetensors")]] {
                let result = loft(command)
                #expect(result.status == 1, "\(name) \(command[0]): \(result.stderr)")
                #expect(result.stderr.hasPrefix("loft \(command[0]): \(directory)"), "\(name): \(result.stderr)")
                #expect(result.stderr.contains(words), "\(name): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(name): \(result.stderr)")
            }
        }
    }
}
