// The architecture keys llama.cpp reads (`ARCH.block_count`, ...) from a transformers
// config.json, and a config.json back from them.

import TensorIO

extension GGUFArchitecture {
    /// `ARCH.*` keys for this config; throws when a required value is missing.
    public func hyperparameters(config: JSONValue, path: String) throws -> [(key: String, value: GGUFValue)] {
        func int(_ keys: String...) throws -> Int {
            for key in keys { if let value = config[key]?.intValue { return value } }
            throw GGUFError(path: path, "config.json has no \(keys.joined(separator: " or ")) (needed for \(name).gguf)")
        }
        func double(_ keys: String..., default fallback: Double) -> Double {
            for key in keys { if let value = config[key]?.doubleValue { return value } }
            return fallback
        }
        var keys: [(key: String, value: GGUFValue)] = []
        func add(_ key: String, _ value: GGUFValue) { keys.append(("\(name).\(key)", value)) }
        switch name {
        case "gpt2":
            let embedding = try int("n_embd")
            add("context_length", .uint32(UInt32(try int("n_ctx", "n_positions"))))
            add("embedding_length", .uint32(UInt32(embedding)))
            add("feed_forward_length", .uint32(UInt32(config["n_inner"]?.intValue ?? 4 * embedding)))
            add("block_count", .uint32(UInt32(try int("n_layer"))))
            add("attention.head_count", .uint32(UInt32(try int("n_head"))))
            add("attention.layer_norm_epsilon", .float32(Float(double("layer_norm_epsilon", default: 1e-5))))
        case "gemma3":
            keys = try gemma3Hyperparameters(config: config, path: path)
        default:
            let hidden = try int("hidden_size"), heads = try int("num_attention_heads")
            let headDim = config["head_dim"]?.intValue ?? hidden / heads
            let rope: RopeScaling
            do { rope = try RopeScaling(json: config, positions: try int("max_position_embeddings"), path: path) } catch let error as ModelError {
                throw GGUFError(path: path, "\(error)")
            }
            add("context_length", .uint32(UInt32(try int("max_position_embeddings"))))
            add("embedding_length", .uint32(UInt32(hidden)))
            add("block_count", .uint32(UInt32(try int("num_hidden_layers"))))
            add("feed_forward_length", .uint32(UInt32(try int("intermediate_size"))))
            add("rope.dimension_count", .uint32(UInt32(headDim)))
            add("attention.head_count", .uint32(UInt32(heads)))
            add("attention.head_count_kv", .uint32(UInt32(config["num_key_value_heads"]?.intValue ?? heads)))
            let theta = config["rope_theta"]?.doubleValue ?? config["rope_parameters"]?["rope_theta"]?.doubleValue ?? 10000
            add("rope.freq_base", .float32(Float(theta)))
            add("attention.layer_norm_rms_epsilon", .float32(Float(double("rms_norm_eps", default: 1e-6))))
            keys += try ropeScalingKeys(rope, path: path)
            if headDim != hidden / heads {
                add("attention.key_length", .uint32(UInt32(headDim)))
                add("attention.value_length", .uint32(UInt32(headDim)))
            }
            add("vocab_size", .uint32(UInt32(try int("vocab_size"))))
            if name == "phi3", let window = config["sliding_window"]?.intValue {
                add("attention.sliding_window", .uint32(UInt32(window)))
            }
        }
        return keys
    }

    /// A transformers config.json from a GGUF header (the keys `hyperparameters` writes).
    /// `ropeFactors`: the file's `rope_freqs.weight` (llama3 rope scaling), if any.
    public func config(from header: GGUFHeader, vocabularySize: Int, tied: Bool, ropeFactors: [Float]? = nil, path: String) throws -> JSONValue {
        func int(_ key: String) throws -> Int {
            guard let value = header.value("\(name).\(key)")?.intValue else { throw GGUFError(path: path, "no \(name).\(key) in the GGUF metadata") }
            return value
        }
        func double(_ key: String, _ fallback: Double) -> Double { header.value("\(name).\(key)")?.doubleValue ?? fallback }
        var members: [JSONMember] = []
        func add(_ key: String, _ value: JSONValue) { members.append(JSONMember(key, value)) }
        switch name {
        case "gpt2":
            if ropeFactors != nil { throw GGUFError(path: path, "\(Self.ropeFrequenciesTensor) in a gpt2 file (GPT-2 has no rotary embeddings)") }
            add("activation_function", .string("gelu_new"))
            add("architectures", .array([.string("GPT2LMHeadModel")]))
            add("layer_norm_epsilon", .double(double("attention.layer_norm_epsilon", 1e-5)))
            add("model_type", .string("gpt2"))
            add("n_ctx", .integer(Int64(try int("context_length"))))
            add("n_embd", .integer(Int64(try int("embedding_length"))))
            add("n_head", .integer(Int64(try int("attention.head_count"))))
            add("n_inner", .integer(Int64(try int("feed_forward_length"))))
            add("n_layer", .integer(Int64(try int("block_count"))))
            add("n_positions", .integer(Int64(try int("context_length"))))
        case "gemma3":
            if ropeFactors != nil { throw GGUFError(path: path, "\(Self.ropeFrequenciesTensor) in a gemma3 file is not supported (llama.cpp's gemma3 does not read it)") }
            members = try gemma3ConfigMembers(header: header, path: path)
            // Gemma's embedding padding row (transformers' default pad_token_id is 0).
            let pad = header.value("tokenizer.ggml.padding_token_id")?.intValue ?? 0
            members.append(JSONMember("pad_token_id", .integer(Int64(pad))))
        default:
            let heads = try int("attention.head_count")
            add("architectures", .array([.string(hfArchitecture)]))
            let hidden = try int("embedding_length")
            let headDim = header.value("\(name).attention.key_length")?.intValue ?? hidden / heads
            add("head_dim", .integer(Int64(headDim)))
            add("hidden_act", .string("silu"))
            add("hidden_size", .integer(Int64(try int("embedding_length"))))
            add("intermediate_size", .integer(Int64(try int("feed_forward_length"))))
            add("max_position_embeddings", .integer(Int64(try int("context_length"))))
            add("model_type", .string(modelType))
            add("num_attention_heads", .integer(Int64(heads)))
            add("num_hidden_layers", .integer(Int64(try int("block_count"))))
            add("num_key_value_heads", .integer(Int64(header.value("\(name).attention.head_count_kv")?.intValue ?? heads)))
            add("rms_norm_eps", .double(double("attention.layer_norm_rms_epsilon", 1e-6)))
            let theta = double("rope.freq_base", 10000)
            add("rope_scaling", try ropeScaling(header: header, factors: ropeFactors, theta: theta, headDimension: headDim, path: path))
            add("rope_theta", .double(theta))
            if name == "phi3" {
                if let window = header.value("phi3.attention.sliding_window")?.intValue { add("sliding_window", .integer(Int64(window))) }
                // Phi3Config's default pad_token_id is 32000, outside a smaller vocabulary.
                let pad = header.value("tokenizer.ggml.padding_token_id")?.intValue
                add("pad_token_id", pad.map { .integer(Int64($0)) } ?? .null)
            }
        }
        add("tie_word_embeddings", .bool(tied))
        add("vocab_size", .integer(Int64(vocabularySize)))
        if let bos = header.value("tokenizer.ggml.bos_token_id")?.intValue { add("bos_token_id", .integer(Int64(bos))) }
        if let eos = header.value("tokenizer.ggml.eos_token_id")?.intValue { add("eos_token_id", .integer(Int64(eos))) }
        return .object(members)
    }
}
