// A Hugging Face model (GPT-2 or LLaMA family) to a GGUF file llama.cpp runs: tensors renamed
// and re-laid out (GGUFArchitecture), typed by the recipe, the architecture keys and the
// tokenizer in the metadata. Tensors stream one at a time: read, widened to float32, laid
// out, quantized on both cores, appended, released; a tensor whose layout does not change
// streams in slices (GGUFWriter.sliceElements), so memory stays flat however large it is.
//
// The tensors come from a closure, so a merge can feed merged tensors straight in (no
// intermediate file); a merge onto a GGUF base also carries the base's types, unchanged
// tensors and tokenizer over (GGUFCarriedBase).

import TensorIO

public struct GGUFExportSummary: Sendable {
    public var output: String
    public var tensors: Int
    public var bytesWritten: Int
    /// Tensors per written type ("Q8_0": 12).
    public var types: [(type: String, count: Int)]
    public var notes: [String]
}

public enum GGUFModelExport {
    /// Exports `source` (a model directory or weights file with config.json beside it).
    public static func run(source: ModelSource, output: String, recipe: GGUFRecipe, progress: ((Int, Int, String) -> Void)? = nil) throws -> GGUFExportSummary {
        let reader = source.reader
        var last: String?
        defer { if let last { reader.release(last) } }
        return try run(tensors: reader.tensors, config: source.config, configPath: source.configPath ?? source.path, tokenizerDirectory: source.tokenizerPath,
                       modelName: source.path, output: output, recipe: recipe, progress: progress) { info in
            if let previous = last { reader.release(previous) }
            last = info.name
            return try reader.data(for: info.name)
        }
    }

    public static func run(tensors: [TensorInfo], config: JSONValue?, configPath: String, tokenizerDirectory: String?, modelName: String,
                           output: String, recipe: GGUFRecipe, carried: GGUFCarriedBase? = nil, progress: ((Int, Int, String) -> Void)? = nil,
                           data: (TensorInfo) throws -> TensorData) throws -> GGUFExportSummary {
        guard let config else { throw GGUFError(path: configPath, "no config.json: GGUF export needs the model's config") }
        let modelType = config["model_type"]?.stringValue ?? ""
        guard let architecture = GGUFArchitecture.named(modelType: modelType) else {
            throw GGUFError(path: configPath, "model_type '\(modelType)' cannot be written to GGUF (loft writes \(GGUFArchitecture.all.map(\.modelType).joined(separator: ", ")))")
        }
        var notes: [String] = []
        // llama.cpp's llama and qwen graphs have no sliding window (its converter drops it too);
        // phi3 keeps it (phi3.attention.sliding_window).
        let usesWindow = modelType == "mistral" || config["use_sliding_window"]?.boolValue == true
        if architecture.name != "phi3", usesWindow, let window = config["sliding_window"]?.intValue {
            notes.append("sliding_window \(window) is not kept: llama.cpp's \(architecture.name) attends over the whole context (the same result while it fits the window)")
        }
        var mapped: [(info: TensorInfo, mapping: GGUFTensorMapping)] = []
        for info in tensors {
            if let mapping = architecture.mapping(hfName: info.name, config: config) {
                mapped.append((info, mapping))
            } else if !(info.name.hasSuffix(".attn.bias") || info.name.hasSuffix(".attn.masked_bias") || info.name.hasSuffix("rotary_emb.inv_freq")) {
                throw GGUFError(path: configPath, "tensor \(info.name) has no \(architecture.name) GGUF name")
            }
        }
        // The order llama.cpp's converter writes: globals first, then the blocks in order.
        mapped.sort { ($0.mapping.layer ?? -1, $0.mapping.ggufName) < ($1.mapping.layer ?? -1, $1.mapping.ggufName) }
        let layers = (mapped.compactMap(\.mapping.layer).max() ?? -1) + 1
        let tied = !mapped.contains { $0.mapping.ggufName == "output.weight" }
        // Llama 3.1's rope scaling is a tensor in GGUF, first as the converter writes it.
        let ropeFactors = try architecture.ropeFrequencyFactors(config: config, path: configPath)
        var plans = ropeFactors.map { [GGUFTensorPlan(name: GGUFArchitecture.ropeFrequenciesTensor, dims: [$0.count], type: .F32)] } ?? []
        for (info, mapping) in mapped {
            guard info.dtype.isFloatingPoint || info.dtype == .I32 else {
                throw GGUFError(path: configPath, "tensor \(info.name) is \(info.dtype); GGUF export reads float tensors")
            }
            let shape = mapping.layout == .transposed && info.shape.count == 2 ? [info.shape[1], info.shape[0]] : info.shape
            let dims = Array(shape.reversed())
            let type = info.dtype == .I32 ? .I32 : carried?.type(ggufName: mapping.ggufName)
                ?? recipe.type(for: mapping.ggufName, dims: dims, source: info.dtype, layer: mapping.layer, layers: layers, tied: tied)
            plans.append(GGUFTensorPlan(name: mapping.ggufName, dims: dims, type: type))
        }
        let fallbacks = zip(mapped, plans.suffix(mapped.count)).filter { carried?.keepsTypes != true && recipe.base?.isQuantized == true && $0.1.type != recipe.base && $0.1.dims.count >= 2 && !recipe.name.hasSuffix("_m") && $0.1.type != .F32 && $0.1.name != "position_embd.weight" }
        if !fallbacks.isEmpty {
            notes.append("\(fallbacks.count) tensor(s) not stored as \(recipe.name): rows not whole blocks (\(fallbacks.prefix(3).map { "\($0.1.name) -> \($0.1.type)" }.joined(separator: ", ")))")
        }

        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(architecture.name)),
            ("general.type", .string("model")),
            // The directory or file name, as llama.cpp's converter names a model (not the whole path).
            ("general.name", .string(SystemPath.lastComponent(modelName.hasSuffix("/") ? String(modelName.dropLast()) : modelName))),
            ("general.file_type", .uint32(recipe.base == nil ? (plans.contains { $0.type == .BF16 } ? 32 : 1) : recipe.fileType)),
            ("general.quantization_version", .uint32(2)),
        ]
        metadata += try architecture.hyperparameters(config: config, path: configPath)
        let vocabularySize = config["vocab_size"]?.intValue ?? 0
        let tokenizer = try tokenizerDirectory.map { try GGUFTokenizer.read(directory: $0, config: config, vocabularySize: vocabularySize) }
        let carriedKeys = carried?.metadata ?? []
        if carriedKeys.contains(where: { $0.key == "tokenizer.ggml.model" }) {
            // The base's own tokenizer, appended below.
        } else if let tokenizer, tokenizer.model != "none" {
            // llama.cpp's names for the pre-tokenizer regex: Qwen's (qwen2, also for Qwen3) is its own.
            let preTokenizer = ["gpt2": "gpt-2", "qwen2": "qwen2", "qwen3": "qwen2"][architecture.name] ?? "default"
            metadata += tokenizer.metadata(preTokenizer: preTokenizer)
        } else {
            metadata.append(("tokenizer.ggml.model", .string("none")))
            if !metadata.contains(where: { $0.key == "\(architecture.name).vocab_size" }) {
                metadata.append(("\(architecture.name).vocab_size", .uint32(UInt32(vocabularySize))))
            }
            let reason = tokenizer?.unsupported.map { "the tokenizer is not carried (\($0))" } ?? "no tokenizer beside the model"
            notes.append("\(reason): written with tokenizer.ggml.model = none (llama.cpp runs it on token ids)")
        }
        for (key, value) in carriedKeys {
            if let index = metadata.firstIndex(where: { $0.key == key }) { metadata[index].value = value } else { metadata.append((key, value)) }
        }

        let writer = try GGUFWriter(path: output, metadata: metadata, tensors: plans)
        let total = plans.reduce(0) { $0 + $1.byteCount }
        var done = 0
        if let ropeFactors {
            try ropeFactors.withUnsafeBufferPointer { try writer.write(values: $0) }
            done += ropeFactors.count * 4
        }
        for ((info, mapping), plan) in zip(mapped, plans.suffix(mapped.count)) {
            progress?(done, total, plan.name)
            // A GGUF base's unchanged tensor: its stored bytes, never dequantized.
            if let stored = try carried?.stored(info.name, ggufName: plan.name, as: plan.type) {
                try writer.write(stored, from: carried?.reader.gguf.owner)
                done += plan.byteCount
                continue
            }
            let source = try data(info)
            if plan.type == .I32 || (mapping.layout == .unchanged && GGMLType(storing: source.info.dtype) == plan.type) {
                try writer.write(source.bytes, from: source.owner)
            } else if mapping.layout == .unchanged, let width = source.info.dtype.byteWidth {
                // Streamed in slices: float32 read in place (when aligned), other types widened
                // into the writer's scratch; each slice's mapped pages are dropped once encoded.
                let dtype = source.info.dtype
                var consumed = 0
                try writer.write { range, scratch in
                    source.releaseMappedPages(UnsafeRawBufferPointer(rebasing: source.bytes[consumed ..< range.lowerBound * width]))
                    consumed = range.lowerBound * width
                    let slice = UnsafeRawBufferPointer(rebasing: source.bytes[consumed ..< range.upperBound * width])
                    if dtype == .F32, let base = slice.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: range.count)
                    }
                    try DTypeConversion.convert(from: dtype, source: slice, to: .F32, destination: UnsafeMutableRawBufferPointer(scratch), count: range.count)
                    return UnsafeBufferPointer(scratch)
                }
                source.releaseMappedPages(UnsafeRawBufferPointer(rebasing: source.bytes[consumed...]))
            } else {
                let values = try DTypeConversion.convert(source, to: .F32).withElements(as: Float.self) { Array($0) }
                let laid = GGUFLayoutTransform.apply(mapping.layout, values, shape: info.shape)
                try laid.values.withUnsafeBufferPointer { try writer.write(values: $0) }
            }
            done += plan.byteCount
        }
        progress?(total, total, "")
        try writer.commit()
        var counts: [String: Int] = [:]
        for plan in plans { counts[plan.type.name, default: 0] += 1 }
        return GGUFExportSummary(output: output, tensors: plans.count, bytesWritten: writer.bytesWritten,
                                 types: counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, notes: notes)
    }
}
