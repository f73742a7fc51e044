// `loft convert ADAPTER_DIR OUT --to peft|mlx`: a LoRA / DoRA adapter between PEFT's and
// MLX-LM's layouts, with the same delta:
//
//                 PEFT                                        MLX-LM
//   files         adapter_model.safetensors                   adapters.safetensors
//   keys          base_model.model.<m>.lora_A.weight (r x in)  <m>.lora_a (in x r) = Aᵀ
//                 base_model.model.<m>.lora_B.weight (out x r) <m>.lora_b (r x out) = Bᵀ
//                 <m>.lora_magnitude_vector (DoRA, out)        <m>.m
//   scale         lora_alpha / r per module (patterns)         lora_parameters.scale, absolute, one
//   layers        module paths                                 num_layers (the last N layers), keys
//   GPT-2         transformer.h.N..., fan_in_fan_out (Conv1D)  model.h.N..., Linear weights
//
// To MLX, a module whose scale differs from the adapter's most common one has the ratio
// folded into lora_b (exact in float64, rounded once to float32), so one absolute scale
// serves every module. To PEFT, lora_alpha = scale x r, and modules of another rank get
// rank_pattern and alpha_pattern entries. num_layers assumes the adapter reaches the model's
// last layer (mlx-lm wraps the last num_layers layers; extra wrapped layers start at B = 0).

import Foundation
import TensorIO

public enum AdapterLayout: String, Sendable, CaseIterable {
    case peft
    case mlx
}

public struct AdapterConversionReport: Sendable {
    public var input: String
    public var output: String
    public var from: AdapterFormat
    public var to: AdapterLayout
    public var modules: Int
    public var dora: Bool
    /// MLX output: the scale written and how many modules had their scale folded into lora_b.
    public var scale: Double?
    public var folded: Int
    public var numLayers: Int?
    public var files: [String]
}

public enum AdapterConversion {
    public static func run(input: String, output: String, to layout: AdapterLayout, overwrite: Bool = false) throws -> AdapterConversionReport {
        let adapter = try Adapter(directory: input)
        let target = try AdapterOutput(output, overwrite: overwrite, inputs: [input])
        if let replaced = adapter.replacements.first {
            throw AdapterError.unsupportedCombination(tensor: "\(input): \(replaced.key)", reason: "modules_to_save / saved embedding layers have no MLX-LM form")
        }
        for update in adapter.updates {
            if update.isEmbedding { throw AdapterError.unsupportedCombination(tensor: "\(input): \(update.module)", reason: "an embedding LoRA has no MLX-LM form") }
            if update.bias != nil { throw AdapterError.unsupportedCombination(tensor: "\(input): \(update.module)", reason: "lora_bias has no MLX-LM form") }
        }
        guard !adapter.updates.isEmpty else { throw AdapterError.notAnAdapter(path: input) }
        let dora = adapter.updates.contains { $0.magnitude != nil }
        if dora && adapter.updates.contains(where: { $0.magnitude == nil }) {
            throw AdapterError.unsupportedCombination(tensor: input, reason: "some modules are DoRA and some plain LoRA; MLX-LM's fine_tune_type is one of them")
        }
        var report = AdapterConversionReport(input: input, output: output, from: adapter.format, to: layout, modules: adapter.updates.count,
                                             dora: dora, scale: nil, folded: 0, numLayers: nil, files: [])
        switch layout {
        case .mlx:
            let (tensors, config, scale, folded, layers) = try mlx(adapter, dora: dora)
            report.files = try target.write(weights: "adapters.safetensors", tensors: tensors, metadata: [("format", "mlx")],
                                            config: JSON.serialize(config, style: .indented) + "\n")
            (report.scale, report.folded, report.numLayers) = (scale, folded, layers)
        case .peft:
            let (tensors, config) = peft(adapter, dora: dora)
            report.files = try target.write(weights: "adapter_model.safetensors", tensors: tensors, metadata: [("format", "pt")], config: config.text)
        }
        return report
    }

    /// The most common value (ties: the first seen).
    static func mode<T: Hashable>(_ values: [T]) -> T {
        var counts: [T: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        return values.max { counts[$0]! < counts[$1]! }.map { v in values.first { counts[$0]! == counts[v]! }! }!
    }

    static func layerIndex(_ module: String) -> (index: Int, key: String)? {
        let parts = module.split(separator: ".").map(String.init)
        for (i, part) in parts.enumerated() where (part == "layers" || part == "h") && i + 1 < parts.count {
            if let index = Int(parts[i + 1]) { return (index, parts[(i + 2)...].joined(separator: ".")) }
        }
        return nil
    }

    static func mlx(_ adapter: Adapter, dora: Bool) throws -> ([TensorData], JSONValue, Double, Int, Int) {
        let scale = mode(adapter.updates.map(\.scale))
        let rank = mode(adapter.updates.map(\.rank))
        var tensors: [TensorData] = []
        var keys: [String] = []
        var minLayer = Int.max, maxLayer = -1
        var folded = 0
        for update in adapter.updates {
            guard let (index, key) = layerIndex(update.module) else {
                throw AdapterError.unsupportedCombination(tensor: update.module, reason: "not inside a numbered layer (layers.N / h.N); MLX-LM adapters live in the transformer layers")
            }
            minLayer = min(minLayer, index)
            maxLayer = max(maxLayer, index)
            if !keys.contains(key) { keys.append(key) }
            let name = update.module.hasPrefix("transformer.") ? "model." + update.module.dropFirst("transformer.".count) : update.module
            let ratio = update.scale / scale
            if ratio != 1 { folded += 1 }
            // lora_a = Aᵀ (in x r), lora_b = (ratio B)ᵀ (r x out).
            tensors.append(AdapterCombine.f32(name + ".lora_a", SVDTranspose.of(update.a, rows: update.rank, columns: update.aColumns), shape: [update.aColumns, update.rank]))
            tensors.append(AdapterCombine.f32(name + ".lora_b", SVDTranspose.of(update.b.map { $0 * ratio }, rows: update.bRows, columns: update.rank), shape: [update.rank, update.bRows]))
            if let m = update.magnitude { tensors.append(AdapterCombine.f32(name + ".m", m, shape: [m.count])) }
        }
        let numLayers = maxLayer + 1 - minLayer
        let config = JSONValue.object([
            JSONMember("fine_tune_type", .string(dora ? "dora" : "lora")),
            JSONMember("num_layers", .integer(Int64(numLayers))),
            JSONMember("lora_parameters", .object([
                JSONMember("rank", .integer(Int64(rank))), JSONMember("scale", .double(scale)),
                JSONMember("dropout", .double(0)), JSONMember("keys", .array(keys.map { .string($0) })),
            ])),
        ])
        return (tensors, config, scale, folded, numLayers)
    }

    static func peft(_ adapter: Adapter, dora: Bool) -> ([TensorData], PEFTConfigText) {
        // Module paths as PEFT names them in the Hugging Face class: mlx-lm's GPT-2 `model.h.N`
        // is transformers' `transformer.h.N`, whose projections are Conv1D.
        let gpt2 = adapter.format == .mlx && adapter.updates.contains { $0.module.hasPrefix("model.h.") }
        var tensors: [TensorData] = []
        var modules: [(path: String, rank: Int, alpha: Double)] = []
        for update in adapter.updates {
            let path = gpt2 ? "transformer." + update.module.dropFirst("model.".count) : update.module
            let key = Adapter.peftPrefix + path
            tensors.append(AdapterCombine.f32(key + ".lora_A.weight", update.a, shape: [update.rank, update.aColumns]))
            tensors.append(AdapterCombine.f32(key + ".lora_B.weight", update.b, shape: [update.bRows, update.rank]))
            if let m = update.magnitude { tensors.append(AdapterCombine.f32(key + ".lora_magnitude_vector", m, shape: [m.count])) }
            // rsLoRA's alpha / sqrt(r) becomes a plain alpha with the same scale.
            let alpha = adapter.peftSettings?.useRslora == true ? nil : update.alpha
            modules.append((path, update.rank, alpha ?? update.scale * Double(update.rank)))
        }
        let rank = mode(modules.map(\.rank))
        let alpha = mode(modules.filter { $0.rank == rank }.map(\.alpha))
        var config = PEFTConfigText(rank: rank, alpha: alpha, targets: modules.map(\.path))
        config.rankPattern = modules.filter { $0.rank != rank }.map { ($0.path, $0.rank) }
        config.alphaPattern = modules.filter { $0.alpha != alpha }.map { ($0.path, $0.alpha) }
        config.fanInFanOut = gpt2 || (adapter.peftSettings?.fanInFanOut ?? false)
        config.dora = dora
        return (tensors, config)
    }
}

enum SVDTranspose {
    static func of(_ values: [Double], rows: Int, columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: values.count)
        for i in 0..<rows { for j in 0..<columns { out[j * rows + i] = values[i * columns + j] } }
        return out
    }
}
