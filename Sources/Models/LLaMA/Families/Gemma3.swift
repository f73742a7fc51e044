// Gemma 3 (model_type gemma3_text, Gemma3ForCausalLM): the LLaMA layout with
//   - RMSNorm by (1 + weight) everywhere (weights stored centred on 0), q_norm and k_norm;
//   - four norms per block: post_attention_layernorm on the attention output and
//     pre_/post_feedforward_layernorm around the MLP (LlamaLayout.sandwichNorms);
//   - GeGLU (gelu_pytorch_tanh) instead of SwiGLU, an explicit head_dim (256 by default);
//   - token embeddings times sqrt(hidden_size), taken in float32 as transformers does for a
//     float32 model (loft computes in float32 whatever the checkpoint's dtype);
//   - attention scores scaled by query_pre_attn_scalar^-1/2;
//   - sliding-window layers (`layer_types`, or every layer but each `sliding_window_pattern`-th)
//     with their own rope base (rope_local_base_freq, 10000) beside global layers
//     (rope_theta, 1e6 by default), in either spelling: the top-level keys of the released
//     configs or transformers 5's `rope_parameters` per layer type;
//   - a tied head, pad_token_id 0 as the embedding's padding row.
// Refused: final_logit_softcapping and attn_logit_softcapping (null in every released Gemma 3
// config; Gemma 2 used them), use_bidirectional_attention.

import TensorIO

extension LlamaLayout {
    public static let gemma3 = LlamaLayout(modelType: "gemma3_text", architecture: "Gemma3ForCausalLM", displayName: "Gemma 3",
                                           queryKeyNorm: true, defaultHeadDimension: 256, slidingWindows: .layerTypes,
                                           normWeightOffset: 1, scaledEmbeddings: true, sandwichNorms: true,
                                           defaultActivation: .geluTanh)
}

extension ModelFamily {
    public static let gemma3 = ModelFamily.llamaLayout(.gemma3)
}

extension LlamaConfig {
    /// Gemma 3's keys: the window of the sliding layers, each layer type's rope,
    /// query_pre_attn_scalar, and the soft-capping it refuses.
    mutating func readLayerTypes(json: JSONValue, path: String) throws {
        func present(_ key: String) -> JSONValue? { json[key].flatMap { $0 == .null ? nil : $0 } }
        for key in ["final_logit_softcapping", "attn_logit_softcapping"] {
            if let value = present(key) {
                throw ModelError.invalidConfig(path: path, reason: "\(key) \(value.doubleValue.map { "\($0)" } ?? "set") is not implemented (Gemma 3 configs leave it null)")
            }
        }
        if present("use_bidirectional_attention")?.boolValue == true {
            throw ModelError.invalidConfig(path: path, reason: "use_bidirectional_attention is not supported (causal language models only)")
        }
        if let scalar = present("query_pre_attn_scalar") {
            guard let value = scalar.doubleValue else { throw ModelError.invalidConfig(path: path, reason: "'query_pre_attn_scalar' must be a number") }
            queryPreAttentionScalar = value
        } else {
            queryPreAttentionScalar = 256
        }

        let windowValue = present("sliding_window") ?? .integer(4096)
        guard let window = windowValue.intValue else { throw ModelError.invalidConfig(path: path, reason: "'sliding_window' must be an integer or null") }
        let types: [String]
        if let listed = present("layer_types")?.arrayValue {
            guard listed.count == layers else {
                throw ModelError.invalidConfig(path: path, reason: "layer_types has \(listed.count) entries for \(layers) layers")
            }
            types = try listed.map {
                guard let type = $0.stringValue else { throw ModelError.invalidConfig(path: path, reason: "layer_types must hold strings") }
                return type
            }
        } else {
            let pattern = (present("sliding_window_pattern") ?? present("_sliding_window_pattern"))?.intValue ?? 6
            guard pattern > 0 else { throw ModelError.invalidConfig(path: path, reason: "sliding_window_pattern must be positive, is \(pattern)") }
            types = (0..<layers).map { ($0 + 1) % pattern != 0 ? "sliding_attention" : "full_attention" }
        }
        windows = try types.map { type in
            switch type {
            case "sliding_attention": return window
            case "full_attention": return nil
            default: throw ModelError.invalidConfig(path: path, reason: "layer type '\(type)' is not supported (full_attention, sliding_attention)")
            }
        }

        // One rope per layer type: rope_parameters[type], else the top-level keys.
        let perType = present("rope_parameters")
        func rope(_ type: String, theta: String, defaultTheta: Double, scaling: JSONValue?) throws -> RopeScaling {
            var parameters = perType?[type]?.objectMembers ?? scaling?.objectMembers ?? []
            if !parameters.contains(where: { $0.key == "rope_theta" }) {
                parameters.append(JSONMember("rope_theta", present(theta) ?? .double(defaultTheta)))
            }
            return try RopeScaling(json: .object([JSONMember("rope_parameters", .object(parameters))]), positions: positions, path: path)
        }
        self.rope = try rope("full_attention", theta: "rope_theta", defaultTheta: 1_000_000, scaling: present("rope_scaling"))
        localRope = try rope("sliding_attention", theta: "rope_local_base_freq", defaultTheta: 10_000, scaling: nil)
    }

    /// config.json's Gemma 3 keys, in the top-level spelling of the released configs (which
    /// transformers 4.50+ and 5 both read).
    var layerTypeMembers: [JSONMember] {
        [JSONMember("attn_logit_softcapping", .null),
         JSONMember("final_logit_softcapping", .null),
         JSONMember("layer_types", .array(windows.map { .string($0 == nil ? "full_attention" : "sliding_attention") })),
         // transformers 5 types it int (256 in every release) and refuses 256.0.
         JSONMember("query_pre_attn_scalar", queryPreAttentionScalar.map { Int64(exactly: $0).map(JSONValue.integer) ?? .double($0) } ?? .null),
         JSONMember("rope_local_base_freq", .double((localRope ?? rope).theta)),
         JSONMember("sliding_window", windows.compactMap { $0 }.first.map { .integer(Int64($0)) } ?? .null)]
            + scaledLocalRopeMembers
    }

    /// A scaled rope on the sliding layers has no top-level key: it is spelled only as
    /// transformers 5's rope_parameters per layer type (the global layers' scaling stays in
    /// rope_scaling too, which transformers 5 merges into rope_parameters["full_attention"]).
    private var scaledLocalRopeMembers: [JSONMember] {
        guard let local = localRope, local != .default(theta: local.theta) else { return [] }
        func parameters(_ rope: RopeScaling) -> JSONValue {
            let scaling = LlamaConfig.scalingJSON(rope).objectMembers ?? [JSONMember("rope_type", .string("default"))]
            return .object([JSONMember("rope_theta", .double(rope.theta))] + scaling)
        }
        return [JSONMember("rope_parameters", .object([JSONMember("full_attention", parameters(rope)),
                                                        JSONMember("sliding_attention", parameters(local))]))]
    }
}
