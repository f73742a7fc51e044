// A GGUF model back to a Hugging Face directory: config.json from the architecture keys,
// model.safetensors with transformers' names (layouts undone: GPT-2's Conv1D transposed
// back, LLaMA's q/k un-permuted), every tensor dequantized and written as F32, F16 or BF16,
// and tokenizer.json when the file carries a "gpt2" or "llama" tokenizer. Streams one tensor at a time;
// the directory appears complete or not at all (staged beside it by the output policy,
// OutputTarget, then moved into place).

import Foundation
import TensorIO

public enum GGUFModelImport {
    public static func run(input: GGUFReader, output target: OutputTarget, dtype: DType) throws -> (tensors: Int, files: [String]) {
        let output = target.path
        let header = input.header
        guard let name = header.value("general.architecture")?.stringValue else {
            throw GGUFError(path: input.path, "no general.architecture in the metadata")
        }
        guard let architecture = GGUFArchitecture.named(gguf: name) else {
            throw GGUFError(path: input.path, "architecture \(name) cannot be converted to a Hugging Face model (loft knows \(GGUFArchitecture.all.map(\.name).joined(separator: ", ")))")
        }
        if header.value("general.type")?.stringValue == "adapter" {
            throw GGUFError(path: input.path, "a LoRA adapter, not a model")
        }
        guard [.F32, .F16, .BF16].contains(dtype) else { throw GGUFError(path: output, "--dtype must be f32, f16 or bf16 for a Hugging Face model") }
        let tied = input.entry("output.weight") == nil
        let vocabulary = input.entry("token_embd.weight")?.dims.last ?? 0
        let config = try architecture.config(from: header, vocabularySize: vocabulary, tied: tied, path: input.path)

        var outputs: [(info: TensorInfo, mapping: GGUFTensorMapping)] = []
        for entry in header.tensors {
            guard let mapping = architecture.mapping(ggufName: entry.name, config: config) else {
                throw GGUFError(path: input.path, "tensor \(entry.name) has no \(architecture.modelType) name")
            }
            var shape = entry.info.shape
            if mapping.layout == .transposed, shape.count == 2 { shape = [shape[1], shape[0]] }
            let type = entry.info.dtype.isFloatingPoint ? dtype : entry.info.dtype
            outputs.append((TensorInfo(name: mapping.hfName, dtype: type, shape: shape), mapping))
        }
        let staging = try target.stage()

        var byName: [String: (TensorInfo, GGUFTensorMapping, String)] = [:]
        for (info, mapping) in outputs { byName[info.name] = (info, mapping, mapping.ggufName) }
        var last: String?
        try SafetensorsWriter.write(to: staging.file("model.safetensors"), tensors: outputs.map(\.info), metadata: [("format", "pt")]) { info in
            if let previous = last { input.release(previous) }
            let (target, mapping, ggufName) = byName[info.name]!
            last = ggufName
            let data = try input.data(for: ggufName)
            guard data.info.dtype.isFloatingPoint else { return data }
            let values = try DTypeConversion.convert(data, to: .F32).withElements(as: Float.self) { Array($0) }
            let ggufShape = mapping.layout == .transposed ? [target.shape[1], target.shape[0]] : target.shape
            let laid = GGUFLayoutTransform.apply(mapping.layout, values, shape: ggufShape, inverse: true)
            let buffer = ByteBuffer(count: laid.values.count * 4)
            laid.values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
            let f32 = TensorData(info: TensorInfo(name: target.name, dtype: .F32, shape: target.shape), buffer: buffer)
            return target.dtype == .F32 ? f32 : try DTypeConversion.convert(f32, to: target.dtype)
        }
        var files = ["config.json", "model.safetensors"]
        try AtomicOutputFile.write(JSON.serialize(config, style: .indented), to: staging.file("config.json"))
        if let tokenizer = GGUFTokenizer(header: header) {
            try AtomicOutputFile.write(JSON.serialize(tokenizer.tokenizerJSON, style: .indented), to: staging.file("tokenizer.json"))
            files.append("tokenizer.json")
        }
        // A model directory written over an older one: its other weight files would contradict.
        try staging.commit(staleNames: ConversionOutput.isCheckpointFileName)
        return (outputs.count, files.map(target.file))
    }
}
