// GPT-2 hyper-parameters, from a Hugging Face config.json or inferred from tensor shapes.

import TensorIO

public struct GPT2Config: Equatable, LanguageModelConfig {
    public var vocabularySize: Int
    public var positions: Int
    public var channels: Int
    public var heads: Int
    public var layers: Int
    /// Width of the MLP's hidden layer (n_inner, 4 · n_embd when null).
    public var innerChannels: Int
    public var layerNormEpsilon: Float
    /// The MLP's nonlinearity (activation_function): GPT-2's checkpoints use gelu_new (tanh).
    public var activation: Activation

    public init(vocabularySize: Int, positions: Int, channels: Int, heads: Int, layers: Int,
                innerChannels: Int? = nil, layerNormEpsilon: Float = 1e-5, activation: Activation = .gelu) {
        self.vocabularySize = vocabularySize
        self.positions = positions
        self.channels = channels
        self.heads = heads
        self.layers = layers
        self.innerChannels = innerChannels ?? 4 * channels
        self.layerNormEpsilon = layerNormEpsilon
        self.activation = activation
    }

    public var hiddenSize: Int { channels }

    /// The 124M model's shape.
    public static let gpt2Small = GPT2Config(vocabularySize: 50257, positions: 1024, channels: 768, heads: 12, layers: 12)

    /// Reads Hugging Face's names (n_embd, n_head, n_layer, n_positions, vocab_size,
    /// layer_norm_epsilon, n_inner, activation_function).
    public init(json: JSONValue, path: String) throws {
        func integer(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let value = json[key]?.intValue { return value }
            if let fallback, json[key] == nil || json[key] == .null { return fallback }
            throw ModelError.invalidConfig(path: path, reason: "'\(key)' must be an integer")
        }
        let channels = try integer("n_embd")
        var activation = Activation.gelu
        if let value = json["activation_function"], value != .null {
            guard let name = value.stringValue, let known = Activation(huggingFaceName: name) else {
                let shown = value.stringValue.map { "'\($0)'" } ?? "\(value)"
                throw ModelError.invalidConfig(path: path, reason: "activation_function \(shown) is not supported "
                    + "(gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu and tanh are)")
            }
            activation = known
        }
        self.init(vocabularySize: try integer("vocab_size"), positions: try integer("n_positions", try integer("n_ctx", 1024)),
                  channels: channels, heads: try integer("n_head"), layers: try integer("n_layer"),
                  innerChannels: try integer("n_inner", 4 * channels),
                  layerNormEpsilon: Float(json["layer_norm_epsilon"]?.doubleValue ?? 1e-5), activation: activation)
        try validate(path: path)
    }

    public init(contentsOf path: String) throws {
        try self.init(json: JSONFile.read(path), path: path)
    }

    /// From shapes alone: wte gives vocab and width, wpe the context, the highest `h.N.` the
    /// depth, c_fc the inner width. Heads are not in any shape: every released GPT-2 uses
    /// 64-wide heads, so that is assumed (a config.json is needed for anything else).
    public static func inferred(from tensors: [TensorInfo], path: String) throws -> GPT2Config {
        func shape(_ name: String) -> [Int]? {
            (tensors.first { $0.name == "transformer." + name } ?? tensors.first { $0.name == name })?.shape
        }
        guard let wte = shape("wte.weight"), wte.count == 2 else { throw ModelError.cannotInferConfig(path: path, reason: "no 2-D wte.weight") }
        guard let wpe = shape("wpe.weight"), wpe.count == 2 else { throw ModelError.cannotInferConfig(path: path, reason: "no 2-D wpe.weight") }
        var layers = 0
        while shape("h.\(layers).ln_1.weight") != nil { layers += 1 }
        guard layers > 0 else { throw ModelError.cannotInferConfig(path: path, reason: "no h.0.ln_1.weight") }
        guard let fc = shape("h.0.mlp.c_fc.weight"), fc.count == 2 else { throw ModelError.cannotInferConfig(path: path, reason: "no h.0.mlp.c_fc.weight") }
        let channels = wte[1]
        guard channels % 64 == 0 else {
            throw ModelError.cannotInferConfig(path: path, reason: "width \(channels) is not a multiple of the usual head size 64; give a config.json")
        }
        let config = GPT2Config(vocabularySize: wte[0], positions: wpe[0], channels: channels, heads: channels / 64,
                                layers: layers, innerChannels: fc[1])
        try config.validate(path: path)
        return config
    }

    public func validate(path: String) throws {
        for (name, value) in [("vocab_size", vocabularySize), ("n_positions", positions), ("n_embd", channels),
                              ("n_head", heads), ("n_layer", layers), ("n_inner", innerChannels)] where value <= 0 {
            throw ModelError.invalidConfig(path: path, reason: "\(name) must be positive, is \(value)")
        }
        guard channels % heads == 0 else {
            throw ModelError.invalidConfig(path: path, reason: "n_embd \(channels) is not divisible by n_head \(heads)")
        }
    }

    /// config.json as transformers' GPT2Config reads it back (`tiedHead`: tie_word_embeddings).
    public func json(tiedHead: Bool = true) -> JSONValue {
        // transformers' GPT2Config defaults bos/eos to 50256 (GPT-2's <|endoftext|>), which a
        // smaller vocabulary does not have: say null there rather than a wrong id.
        let special: JSONValue = vocabularySize > 50256 ? .integer(50256) : .null
        return .object([
            JSONMember("activation_function", .string(activation.huggingFaceName)),
            JSONMember("architectures", .array([.string("GPT2LMHeadModel")])),
            JSONMember("bos_token_id", special),
            JSONMember("eos_token_id", special),
            // Through the shortest decimal of the Float: 1e-05, not 9.99999974e-06.
            JSONMember("layer_norm_epsilon", .double(Double("\(layerNormEpsilon)") ?? Double(layerNormEpsilon))),
            JSONMember("model_type", .string("gpt2")),
            JSONMember("n_ctx", .integer(Int64(positions))),
            JSONMember("n_embd", .integer(Int64(channels))),
            JSONMember("n_head", .integer(Int64(heads))),
            JSONMember("n_inner", innerChannels == 4 * channels ? .null : .integer(Int64(innerChannels))),
            JSONMember("n_layer", .integer(Int64(layers))),
            JSONMember("n_positions", .integer(Int64(positions))),
            JSONMember("tie_word_embeddings", .bool(tiedHead)),
            JSONMember("vocab_size", .integer(Int64(vocabularySize))),
        ])
    }

    /// Parameter count (tied head counted once).
    public var parameterCount: Int {
        let block = 4 * channels + (channels * 3 * channels + 3 * channels) + (channels * channels + channels)
            + (channels * innerChannels + innerChannels) + (innerChannels * channels + channels)
        return vocabularySize * channels + positions * channels + layers * block + 2 * channels
    }
}
