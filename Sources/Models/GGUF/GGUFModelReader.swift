// A llama.cpp GGUF model seen as the Hugging Face checkpoint it stands for: transformers'
// tensor names and shapes, the layouts llama.cpp changed undone (GPT-2's Conv1D weights
// transposed back, LLaMA's q/k rotary rows un-permuted, Gemma's norms back to w), config.json
// from the architecture keys and the tokenizer from `tokenizer.ggml.*`. Every command that
// opens a model (finetune, eval, generate) loads a .gguf through it, and `loft convert
// model.gguf DIR` writes what it presents.
//
// Quantized tensors read as float32 (dequantized), F16/BF16 ones as they are; a 2-D quantized
// tensor is also handed out as stored (QuantizedTensorReader), its blocks a view of the
// mapping, so `--base-dtype auto` keeps it quantized: rows re-ordered (q/k) are copied, a
// transposed weight is kept as stored and marked transposed.

import TensorIO

public final class GGUFModelReader: QuantizedTensorReader {
    public let gguf: GGUFReader
    public let architecture: GGUFArchitecture
    /// The Hugging Face config.json the metadata describes.
    public let config: JSONValue
    public let tensors: [TensorInfo]
    private let mappings: [String: (entry: GGUFTensorEntry, mapping: GGUFTensorMapping, info: TensorInfo)]

    public var path: String { gguf.path }
    public var format: String { "gguf" }
    public var metadata: [(key: String, value: String)] { gguf.metadata }
    public var storageReader: TensorReader { gguf }

    public init(_ gguf: GGUFReader) throws {
        self.gguf = gguf
        let header = gguf.header
        guard let name = header.value("general.architecture")?.stringValue else {
            throw GGUFError(path: gguf.path, "no general.architecture in the metadata")
        }
        guard let architecture = GGUFArchitecture.named(gguf: name) else {
            throw GGUFError(path: gguf.path, "architecture \(name) is not one loft reads as a model (loft knows \(GGUFArchitecture.all.map(\.name).joined(separator: ", ")))")
        }
        if header.value("general.type")?.stringValue == "adapter" {
            throw GGUFError(path: gguf.path, "a LoRA adapter, not a model")
        }
        self.architecture = architecture
        let tied = gguf.entry("output.weight") == nil
        let vocabulary = gguf.entry("token_embd.weight")?.dims.last ?? 0
        // llama3 rope scaling is a tensor (rope_freqs.weight): it becomes config.json's
        // rope_scaling, not a weight (GGUFRopeScaling.swift).
        let headDimension = header.value("\(name).attention.key_length")?.intValue
            ?? (header.value("\(name).embedding_length")?.intValue ?? 0) / max(header.value("\(name).attention.head_count")?.intValue ?? 1, 1)
        let ropeFactors = try GGUFArchitecture.ropeFrequencyFactors(gguf, headDimension: headDimension)
        config = try architecture.config(from: header, vocabularySize: vocabulary, tied: tied, ropeFactors: ropeFactors, path: gguf.path)
        var tensors: [TensorInfo] = []
        var mappings: [String: (GGUFTensorEntry, GGUFTensorMapping, TensorInfo)] = [:]
        for entry in header.tensors where entry.name != GGUFArchitecture.ropeFrequenciesTensor {
            guard let mapping = architecture.mapping(ggufName: entry.name, config: config) else {
                throw GGUFError(path: gguf.path, "tensor \(entry.name) has no \(architecture.modelType) name")
            }
            var shape = entry.info.shape
            if mapping.layout == .transposed, shape.count == 2 { shape = [shape[1], shape[0]] }
            let info = TensorInfo(name: mapping.hfName, dtype: entry.info.dtype, shape: shape)
            tensors.append(info)
            mappings[mapping.hfName] = (entry, mapping, info)
        }
        self.tensors = tensors
        self.mappings = mappings
    }

    public func info(for name: String) -> TensorInfo? { mappings[name]?.info }

    public func storageType(for name: String) -> String? { mappings[name].flatMap { gguf.storageType(for: $0.entry.name) } }

    public func release(_ name: String) {
        if let entry = mappings[name]?.entry { gguf.release(entry.name) }
    }

    /// The tensor in transformers' layout: dequantized (F32) or in its stored float type.
    public func data(for name: String) throws -> TensorData {
        guard let (entry, mapping, info) = mappings[name] else { throw GGUFError(path: path, "no tensor named \(name)") }
        let data = try gguf.data(for: entry.name)
        guard mapping.layout != .unchanged, info.dtype.isFloatingPoint else { return TensorData(info: info, bytes: data.bytes, owner: data.owner) }
        let values = try DTypeConversion.convert(data, to: .F32).withElements(as: Float.self) { Array($0) }
        let laid = GGUFLayoutTransform.apply(mapping.layout, values, shape: entry.info.shape, inverse: true)
        let buffer = ByteBuffer(count: laid.values.count * 4)
        laid.values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
        let f32 = TensorData(info: TensorInfo(name: name, dtype: .F32, shape: info.shape), buffer: buffer)
        return info.dtype == .F32 ? f32 : try DTypeConversion.convert(f32, to: info.dtype)
    }

    /// A 2-D quantized tensor as stored (rotary rows un-permuted into a copy).
    public func quantizedMatrix(for name: String) throws -> (matrix: QuantizedMatrix, transposed: Bool)? {
        guard let (entry, mapping, _) = mappings[name], entry.type.isQuantized, entry.dims.count == 2 else { return nil }
        let rows = entry.dims[1], columns = entry.dims[0]
        let stored = try gguf.storedData(for: entry.name)
        do {
            switch mapping.layout {
            case .shifted:
                return nil
            case .unchanged:
                return (try QuantizedMatrix(ggml: entry.type, rows: rows, columns: columns, bytes: stored, owner: gguf.owner), false)
            case .transposed:
                return (try QuantizedMatrix(ggml: entry.type, rows: rows, columns: columns, bytes: stored, owner: gguf.owner), true)
            case let .rotary(heads):
                // A row permutation moves whole rows of blocks: transformers' row hf is the file's row gguf.
                guard heads > 0, rows % (2 * heads) == 0, let rowBytes = entry.type.rowBytes(columns), rowBytes * rows == stored.count else { return nil }
                let copy = ByteBuffer(count: stored.count)
                let headDim = rows / heads, half = headDim / 2
                for h in 0..<heads {
                    for j in 0..<2 {
                        for i in 0..<half {
                            let hf = h * headDim + j * half + i, file = h * headDim + 2 * i + j
                            (copy.bytes.baseAddress! + hf * rowBytes).copyMemory(from: stored.baseAddress! + file * rowBytes, byteCount: rowBytes)
                        }
                    }
                }
                return (try QuantizedMatrix(ggml: entry.type, rows: rows, columns: columns, bytes: UnsafeRawBufferPointer(copy.bytes), owner: copy), false)
            }
        } catch let error as QuantizedMatrixError {
            throw GGUFError(path: path, "tensor \(entry.name): \(error.problem)")
        }
    }

    /// The tokenizer the file carries (`tokenizer.ggml.*`, model "gpt2" or "llama") as a
    /// tokenizer.json; nil when it has none loft reads.
    public var tokenizerJSON: JSONValue? { GGUFTokenizer(header: gguf.header)?.tokenizerJSON }
}

extension GGUFModelReader {
    /// A GGUF model as a ModelSource: config, tensors and tokenizer all from the one file.
    public static func source(path: String) throws -> ModelSource {
        let reader = try GGUFModelReader(GGUFReader(path: path))
        return ModelSource(path: path, directory: nil, ownsDirectory: false, reader: reader, config: reader.config, configPath: path, tokenizerPath: nil)
    }

    /// Whether `path` is a GGUF file (by its first bytes).
    public static func isGGUF(_ path: String) -> Bool { TensorFile.sniffedFormat(path) == "gguf" }
}
