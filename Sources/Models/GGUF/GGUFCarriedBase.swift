// What a merged GGUF keeps of a GGUF base (`loft merge --base model.gguf --out merged.gguf`):
// each tensor's stored type (a Q4_K base stays Q4_K; `--dtype` replaces this with a recipe),
// the bytes of every tensor no adapter changes, copied as stored (requantizing dequantized
// k-quant blocks need not give the same blocks back), and the tokenizer and file type from
// the base's metadata (a GGUF base has no tokenizer directory to rebuild them from).

import TensorIO

public struct GGUFCarriedBase {
    public let reader: GGUFModelReader
    /// Keep each tensor's stored type (no --dtype); otherwise the recipe decides.
    public let keepsTypes: Bool
    /// Output (Hugging Face) names of the tensors no adapter changes.
    public let untouched: Set<String>

    /// The types loft's GGUF writer encodes.
    public static let writable: Set<GGMLType> = [.F32, .F16, .BF16, .Q8_0, .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q4_K, .Q5_K, .Q6_K]

    /// Refuses (naming the tensor and its type) a base whose types loft cannot write again
    /// when they are to be kept: the caller says which setting picks a type instead.
    public init(reader: GGUFModelReader, keepsTypes: Bool, untouched: Set<String>, instead: String) throws {
        self.reader = reader
        self.keepsTypes = keepsTypes
        self.untouched = untouched
        guard keepsTypes else { return }
        for entry in reader.gguf.header.tensors where !GGUFCarriedBase.writable.contains(entry.type) {
            throw GGUFError(path: reader.path, "tensor \(entry.name) is stored as \(entry.type.name), a type loft does not write; \(instead)")
        }
    }

    /// The type the base stores `ggufName` in, when kept; a head the merge untied (the base
    /// ties it to token_embd) gets the embedding's type; nil for any other tensor it lacks.
    func type(ggufName: String) -> GGMLType? {
        guard keepsTypes else { return nil }
        if let entry = reader.gguf.entry(ggufName) { return entry.type }
        return ggufName == "output.weight" ? reader.gguf.entry("token_embd.weight")?.type : nil
    }

    /// The stored bytes of `name` (Hugging Face name) when it is unchanged and written as stored.
    func stored(_ name: String, ggufName: String, as type: GGMLType) throws -> UnsafeRawBufferPointer? {
        guard untouched.contains(name), let entry = reader.gguf.entry(ggufName), entry.type == type else { return nil }
        return try reader.gguf.storedData(for: ggufName)
    }

    /// The base's tokenizer keys (and, with its types kept, its file type), verbatim.
    var metadata: [(key: String, value: GGUFValue)] {
        reader.gguf.header.metadata.filter { $0.key.hasPrefix("tokenizer.") || (keepsTypes && $0.key == "general.file_type") }
    }
}
