// A LoRA adapter (PEFT or MLX-LM, as loft reads it) in llama.cpp's adapter format, the file
// `llama-cli --lora` loads: general.type = adapter, adapter.type = lora, adapter.lora.alpha,
// and per adapted weight `<gguf name>.lora_a` (A, r x in) and `.lora_b` (B, out x r) as F32.
//
// llama.cpp scales each pair by alpha / r (r from the tensor). When every module has the
// same alpha (scale * r) that alpha is written; otherwise (rank or alpha patterns, rsLoRA
// with mixed ranks) each B is multiplied by its own scale and alpha is written as 0, which
// llama.cpp reads as "scale 1". LLaMA's q/k projections get the rotary permutation on B's
// rows, as the base weights do. DoRA, lora_B biases, embedding LoRA and modules_to_save have
// no llama.cpp equivalent and are refused (GGUFAdapterExport.Unsupported: `loft convert`
// reports it as an error, `loft finetune` on a GGUF base as a note, skipping the file).

import Adapters
import Foundation
import Models
import TensorIO

public enum GGUFAdapterExport {
    /// An adapter llama.cpp's LoRA format cannot express (DoRA, a lora_B bias, an embedding
    /// LoRA, modules_to_save, a module with no GGUF tensor): a refusal, not a failure to write.
    public struct Unsupported: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// The file `loft finetune` writes beside the PEFT adapter when its base is a GGUF model.
    public static let fileName = "adapter.gguf"

    /// The base model's config: `base`, else the adapter's base_model_name_or_path when it is
    /// a local directory or a GGUF model (its metadata), else the adapter directory's parent.
    static func baseConfig(adapter: String, base: String?) throws -> (config: JSONValue, path: String)? {
        var candidates: [String] = []
        if let base { candidates.append(base) }
        if let settings = try? JSONFile.read((adapter as NSString).appendingPathComponent("adapter_config.json")),
           let named = settings["base_model_name_or_path"]?.stringValue { candidates.append(named) }
        candidates.append((adapter as NSString).deletingLastPathComponent.isEmpty ? "." : (adapter as NSString).deletingLastPathComponent)
        candidates.append(adapter)
        for candidate in candidates {
            if GGUFModelReader.isGGUF(candidate) { return (try GGUFModelReader(GGUFReader(path: candidate)).config, candidate) }
            let path = (candidate as NSString).appendingPathComponent("config.json")
            if FileManager.default.fileExists(atPath: path) { return (try JSONFile.read(path), path) }
        }
        return nil
    }

    public static func run(adapterDirectory: String, base: String?, output: String) throws -> (tensors: Int, alpha: Double) {
        let adapter = try Adapter(directory: adapterDirectory)
        guard let (config, configPath) = try baseConfig(adapter: adapterDirectory, base: base) else {
            throw GGUFError(path: adapterDirectory, "no config.json of the base model found (beside the adapter, in its parent, or at base_model_name_or_path)")
        }
        let modelType = config["model_type"]?.stringValue ?? ""
        guard let architecture = GGUFArchitecture.named(modelType: modelType) else {
            throw GGUFError(path: configPath, "model_type '\(modelType)' cannot be written to GGUF")
        }
        if let replacement = adapter.replacements.first {
            throw Unsupported(path: adapterDirectory, problem: "\(replacement.key) replaces a whole tensor (modules_to_save); llama.cpp adapters hold LoRA pairs only")
        }
        var pairs: [(name: String, a: [Float], aShape: [Int], b: [Float], bShape: [Int], alpha: Double)] = []
        for update in adapter.updates {
            if update.magnitude != nil { throw Unsupported(path: adapterDirectory, problem: "\(update.module) is DoRA; llama.cpp adapters are plain LoRA") }
            if update.bias != nil { throw Unsupported(path: adapterDirectory, problem: "\(update.module) has a lora_B bias; llama.cpp adapters have none") }
            if update.isEmbedding { throw Unsupported(path: adapterDirectory, problem: "\(update.module) is an embedding LoRA; not written to GGUF adapters") }
            guard let mapping = architecture.mapping(hfName: update.module + ".weight", config: config) else {
                throw Unsupported(path: adapterDirectory, problem: "\(update.module) has no \(architecture.name) GGUF tensor")
            }
            let a = update.a.map(Float.init), b = update.b.map(Float.init)
            let r = update.rank
            // B's rows are the weight's output rows: the same permutation as the weight.
            let layout: GGUFLayout = { if case .rotary = mapping.layout { return mapping.layout } else { return .unchanged } }()
            let permuted = GGUFLayoutTransform.apply(layout, b, shape: [update.bRows, r])
            pairs.append((mapping.ggufName, a, [r, update.aColumns], permuted.values, [update.bRows, r], update.scale * Double(r)))
        }
        guard !pairs.isEmpty else { throw GGUFError(path: adapterDirectory, "the adapter holds no LoRA pairs") }
        let uniform = pairs.allSatisfy { abs($0.alpha - pairs[0].alpha) <= 1e-9 * abs(pairs[0].alpha) }
        let alpha = uniform ? pairs[0].alpha : 0
        if !uniform {
            for index in pairs.indices {
                let scale = Float(pairs[index].alpha / Double(pairs[index].aShape[0]))
                pairs[index].b = pairs[index].b.map { $0 * scale }
            }
        }
        let metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(architecture.name)),
            ("general.type", .string("adapter")),
            ("general.name", .string(adapterDirectory)),
            ("adapter.type", .string("lora")),
            ("adapter.lora.alpha", .float32(Float(alpha))),
        ]
        var plans: [GGUFTensorPlan] = []
        for pair in pairs {
            plans.append(GGUFTensorPlan(name: pair.name + ".lora_a", shape: pair.aShape, type: .F32))
            plans.append(GGUFTensorPlan(name: pair.name + ".lora_b", shape: pair.bShape, type: .F32))
        }
        let writer = try GGUFWriter(path: output, metadata: metadata, tensors: plans)
        for pair in pairs {
            try pair.a.withUnsafeBufferPointer { try writer.write(values: $0) }
            try pair.b.withUnsafeBufferPointer { try writer.write(values: $0) }
        }
        try writer.commit()
        return (plans.count, alpha)
    }
}
