// Finding the base tensor an adapter key means.
//
// Adapter module paths are the paths inside the model class the adapter was trained on
// (PEFT: `transformer.h.0.attn.c_attn` for GPT2LMHeadModel, `model.layers.0...` for
// LlamaForCausalLM; mlx-lm: `model.h.0...` or `model.layers.0...`), while checkpoints name
// tensors with or without those outer prefixes (the GPT-2 hub file has `h.0.attn...`). A name
// is tried as written, then without a leading `transformer.`/`model.`, then (for a name
// without either) with one added; the first that exists wins.
//
// Tied embeddings: a causal LM saved without `lm_head.weight` but with an input embedding
// (`wte.weight`, `model.embed_tokens.weight`) uses the embedding as its output head.

import TensorIO

struct BaseNames {
    let shapes: [String: [Int]]

    init(_ tensors: [TensorInfo]) {
        var shapes: [String: [Int]] = [:]
        for tensor in tensors { shapes[tensor.name] = tensor.shape }
        self.shapes = shapes
    }

    static let outerPrefixes = ["transformer.", "model."]

    /// Names tried for `name`, in order.
    static func candidates(_ name: String) -> [String] {
        var stems = [name]
        for prefix in outerPrefixes where name.hasPrefix(prefix) { stems.append(String(name.dropFirst(prefix.count))) }
        var result: [String] = []
        for stem in stems {
            let prefixed = outerPrefixes.contains { stem.hasPrefix($0) } ? [] : outerPrefixes.map { $0 + stem }
            for candidate in [stem] + prefixed where !result.contains(candidate) {
                result.append(candidate)
            }
        }
        return result
    }

    func resolve(_ name: String) -> String? {
        Self.candidates(name).first { shapes[$0] != nil }
    }

    static let embeddingNames = ["wte.weight", "transformer.wte.weight", "model.embed_tokens.weight", "embed_tokens.weight"]
    static let headName = "lm_head.weight"

    /// The input embedding serving as the output head, when the checkpoint ties them.
    var tiedEmbedding: String? {
        guard resolve(Self.headName) == nil else { return nil }
        return Self.embeddingNames.first { shapes[$0] != nil }
    }

    /// Whether an adapter name (module path + ".weight") means the output head.
    static func isHead(_ name: String) -> Bool {
        candidates(name).contains(headName)
    }
}
