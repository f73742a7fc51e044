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
        // Names, shapes, layouts and config.json: the model as every command reads it.
        let model = try GGUFModelReader(input)
        guard [.F32, .F16, .BF16].contains(dtype) else { throw GGUFError(path: output, "--dtype must be f32, f16 or bf16 for a Hugging Face model") }
        let outputs = model.tensors.map { info in
            TensorInfo(name: info.name, dtype: info.dtype.isFloatingPoint ? dtype : info.dtype, shape: info.shape)
        }
        let staging = try target.stage()

        var last: String?
        try SafetensorsWriter.write(to: staging.file("model.safetensors"), tensors: outputs, metadata: [("format", "pt")]) { info in
            if let previous = last { model.release(previous) }
            last = info.name
            let data = try model.data(for: info.name)
            guard data.info.dtype.isFloatingPoint, data.info.dtype != info.dtype else { return data }
            return try DTypeConversion.convert(data, to: info.dtype)
        }
        var files = ["config.json", "model.safetensors"]
        try AtomicOutputFile.write(JSON.serialize(model.config, style: .indented), to: staging.file("config.json"))
        if let tokenizer = model.tokenizerJSON {
            try AtomicOutputFile.write(JSON.serialize(tokenizer, style: .indented), to: staging.file("tokenizer.json"))
            files.append("tokenizer.json")
        }
        // A model directory written over an older one: its other weight files would contradict.
        try staging.commit(staleNames: ConversionOutput.isCheckpointFileName)
        return (outputs.count, files.map(target.file))
    }
}
