// Gemma 3's `gemma3.*` keys, and the checks that llama.cpp will run the config as
// transformers does.
//
// llama.cpp's gemma3 graph hard-codes what a transformers config spells out:
//   - which layers slide: every layer but each 6th (layer i slides when i % 6 < 5);
//   - the sliding layers' rope base, 10000 (the global layers read rope.freq_base);
//   - the attention scale, 1/sqrt(head_dim) (1/sqrt(hidden / heads) for the 62-layer 27B),
//     where transformers uses query_pre_attn_scalar^-1/2;
//   - the GeGLU activation (tanh GELU), no logit soft-capping, and unscaled rope on the
//     sliding layers (the global layers' linear scaling is `rope.scaling.*`).
// A config that differs is refused with the reason rather than written as a file that runs
// differently. Every released Gemma 3 text config passes.

import TensorIO

extension GGUFArchitecture {
    /// The layer layout llama.cpp's gemma3 uses: sliding unless the 6th of a period.
    static func gemma3Sliding(layer: Int) -> Bool { layer % 6 < 5 }

    func gemma3Hyperparameters(config json: JSONValue, path: String) throws -> [(key: String, value: GGUFValue)] {
        let config: LlamaConfig
        do { config = try LlamaConfig(json: json, path: path) } catch let error as ModelError {
            throw GGUFError(path: path, "\(error)")
        }
        func refuse(_ reason: String) -> GGUFError {
            GGUFError(path: path, "\(reason); llama.cpp's gemma3 would run this model differently, so it is not written to GGUF")
        }
        let sliding = (0..<config.layers).map { config.windows[$0] != nil }
        let expected = (0..<config.layers).map(Self.gemma3Sliding)
        if sliding != expected {
            let describe = { (flags: [Bool]) in flags.map { $0 ? "sliding" : "full" }.joined(separator: ", ") }
            throw refuse("layer types [\(describe(sliding))] are not llama.cpp's fixed pattern [\(describe(expected))] (every 6th layer full)")
        }
        guard let window = config.windows.compactMap({ $0 }).first else { throw refuse("no sliding_window") }
        if case .llama3 = config.rope { throw refuse("llama3 rope scaling on the global layers is not supported") }
        let globalTheta = config.rope.theta
        let local = config.localRope ?? config.rope
        guard local == .default(theta: 10000) else {
            throw refuse("the sliding layers' rope base is \(local.theta) (llama.cpp fixes 10000)")
        }
        let llamaScale = config.layers == 62 ? 1 / Float(config.hidden / config.heads).squareRoot() : 1 / Float(config.headDimension).squareRoot()
        if abs(config.attentionScale - llamaScale) > 1e-6 * llamaScale {
            throw refuse("query_pre_attn_scalar \(config.queryPreAttentionScalar.map { "\($0)" } ?? "unset") gives attention scale \(config.attentionScale), llama.cpp uses \(llamaScale) (1/sqrt(head_dim \(config.headDimension)))")
        }
        guard config.activation == .geluTanh else { throw refuse("hidden_activation \(config.activation.rawValue) (llama.cpp uses gelu_pytorch_tanh)") }

        var keys: [(key: String, value: GGUFValue)] = []
        func add(_ key: String, _ value: GGUFValue) { keys.append(("\(name).\(key)", value)) }
        add("context_length", .uint32(UInt32(config.positions)))
        add("embedding_length", .uint32(UInt32(config.hidden)))
        add("block_count", .uint32(UInt32(config.layers)))
        add("feed_forward_length", .uint32(UInt32(config.intermediate)))
        add("attention.head_count", .uint32(UInt32(config.heads)))
        add("attention.head_count_kv", .uint32(UInt32(config.keyValueHeads)))
        add("attention.key_length", .uint32(UInt32(config.headDimension)))
        add("attention.value_length", .uint32(UInt32(config.headDimension)))
        add("rope.dimension_count", .uint32(UInt32(config.headDimension)))
        add("rope.freq_base", .float32(Float(globalTheta)))
        add("attention.layer_norm_rms_epsilon", .float32(config.rmsNormEpsilon))
        // The global layers' linear scaling (the 4B/12B/27B configs' factor 8); llama.cpp's
        // gemma3 leaves the sliding layers unscaled, as transformers does.
        keys += try ropeScalingKeys(config.rope, path: path)
        add("attention.sliding_window", .uint32(UInt32(window)))
        add("vocab_size", .uint32(UInt32(config.vocabularySize)))
        return keys
    }

    /// config.json's Gemma 3 keys from a gemma3 GGUF (llama.cpp's fixed choices spelled out).
    func gemma3ConfigMembers(header: GGUFHeader, path: String) throws -> [JSONMember] {
        func int(_ key: String) throws -> Int {
            guard let value = header.value("\(name).\(key)")?.intValue else { throw GGUFError(path: path, "no \(name).\(key) in the GGUF metadata") }
            return value
        }
        let hidden = try int("embedding_length"), heads = try int("attention.head_count"), layers = try int("block_count")
        let headDim = header.value("\(name).attention.key_length")?.intValue ?? hidden / heads
        let theta = header.value("\(name).rope.freq_base")?.doubleValue ?? 1_000_000
        // The 4B+ checkpoints' linear scaling of the global layers (rope.scaling.*).
        let scaling = try ropeScaling(header: header, factors: nil, theta: theta, headDimension: headDim, path: path)
        let globalRope = [JSONMember("rope_theta", .double(theta))] + (scaling.objectMembers ?? [JSONMember("rope_type", .string("default"))])
        let window = try int("attention.sliding_window")
        let scalar = layers == 62 ? hidden / heads : headDim
        return [
            JSONMember("architectures", .array([.string(hfArchitecture)])),
            JSONMember("attn_logit_softcapping", .null),
            JSONMember("final_logit_softcapping", .null),
            JSONMember("head_dim", .integer(Int64(headDim))),
            JSONMember("hidden_activation", .string("gelu_pytorch_tanh")),
            JSONMember("hidden_size", .integer(Int64(hidden))),
            JSONMember("intermediate_size", .integer(Int64(try int("feed_forward_length")))),
            JSONMember("layer_types", .array((0..<layers).map { .string(Self.gemma3Sliding(layer: $0) ? "sliding_attention" : "full_attention") })),
            JSONMember("max_position_embeddings", .integer(Int64(try int("context_length")))),
            JSONMember("model_type", .string(modelType)),
            JSONMember("num_attention_heads", .integer(Int64(heads))),
            JSONMember("num_hidden_layers", .integer(Int64(layers))),
            JSONMember("num_key_value_heads", .integer(Int64(header.value("\(name).attention.head_count_kv")?.intValue ?? heads))),
            JSONMember("query_pre_attn_scalar", .integer(Int64(scalar))),
            JSONMember("rms_norm_eps", .double(header.value("\(name).attention.layer_norm_rms_epsilon")?.doubleValue ?? 1e-6)),
            // Both spellings: transformers 5's per-layer-type rope, and the released configs' keys.
            JSONMember("rope_local_base_freq", .double(10000)),
            JSONMember("rope_parameters", .object([
                JSONMember("full_attention", .object(globalRope)),
                JSONMember("sliding_attention", .object([JSONMember("rope_theta", .double(10000)), JSONMember("rope_type", .string("default"))])),
            ])),
            JSONMember("rope_scaling", scaling),
            JSONMember("rope_theta", .double(theta)),
            JSONMember("sliding_window", .integer(Int64(window))),
        ]
    }
}
