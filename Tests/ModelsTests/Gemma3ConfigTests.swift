// Gemma 3's config.json (fixtures/families/gemma3, written by transformers 5 with
// rope_parameters per layer type): the keys loft reads, the released configs' top-level
// spelling (rope_theta, rope_local_base_freq, sliding_window_pattern) read the same, the
// config written back reads the same, and what is refused is named.

import Testing
import TensorIO
@testable import Models

@Suite struct Gemma3ConfigTests {
    let path = LlamaFixtures.path("gemma3/config.json")

    func edited(_ change: (inout [JSONMember]) -> Void) throws -> JSONValue {
        guard case var .object(members) = try JSONFile.read(path) else { throw ModelError.invalidConfig(path: path, reason: "not an object") }
        change(&members)
        return .object(members)
    }

    @Test func fixtureConfig() throws {
        let config = try LlamaConfig(contentsOf: path)
        #expect(config.layout == .gemma3 && config.activation == .geluTanh)
        #expect(config.windows == [5, nil] && config.headDimension == 12 && config.queryPreAttentionScalar == 20)
        #expect(config.rope == .default(theta: 1e6) && config.localRope == .default(theta: 1e4))
        #expect(config.rope(layer: 0) == .default(theta: 1e4) && config.rope(layer: 1) == .default(theta: 1e6))
        #expect(config.attentionScale == Float(1 / 20.0.squareRoot()))
        #expect(config.tiedEmbeddings && config.padTokenId == 0)
        #expect(try LlamaConfig(json: config.json, path: "written") == config, "config.json written back reads the same")
    }

    @Test func releasedSpellingReadsTheSame() throws {
        let json = try edited { members in
            members.removeAll { ["rope_parameters", "layer_types"].contains($0.key) }
            members += [JSONMember("rope_theta", .double(1e6)), JSONMember("rope_local_base_freq", .double(1e4)),
                        JSONMember("rope_scaling", .null), JSONMember("sliding_window_pattern", .integer(2))]
        }
        #expect(try LlamaConfig(json: json, path: path) == LlamaConfig(contentsOf: path))
    }

    @Test func defaultPatternIsFiveSlidingLayersPerGlobalOne() throws {
        let json = try edited { members in
            members.removeAll { ["layer_types", "num_hidden_layers", "_sliding_window_pattern"].contains($0.key) }
            members.append(JSONMember("num_hidden_layers", .integer(7)))
        }
        #expect(try LlamaConfig(json: json, path: path).windows == [5, 5, 5, 5, 5, nil, 5])
    }

    @Test(arguments: [("final_logit_softcapping", JSONValue.double(30), "final_logit_softcapping 30.0 is not implemented (Gemma 3 configs leave it null)"),
                      ("attn_logit_softcapping", .double(50), "attn_logit_softcapping 50.0 is not implemented (Gemma 3 configs leave it null)"),
                      ("use_bidirectional_attention", .bool(true), "use_bidirectional_attention is not supported (causal language models only)"),
                      ("hidden_activation", .string("gelu"), "hidden_activation 'gelu' is not supported (silu, gelu_pytorch_tanh)")])
    func refusals(key: String, value: JSONValue, reason: String) throws {
        let json = try edited { members in
            members.removeAll { $0.key == key }
            members.append(JSONMember(key, value))
        }
        #expect(throws: ModelError.invalidConfig(path: path, reason: reason)) { try LlamaConfig(json: json, path: path) }
    }

    /// The released 4B/12B/27B spelling: a top-level rope_scaling applies to the global layers
    /// only (transformers moves it into rope_parameters["full_attention"]).
    @Test func linearRopeScalingAppliesToTheGlobalLayers() throws {
        let json = try edited { members in
            members.removeAll { $0.key == "rope_parameters" }
            members.append(JSONMember("rope_scaling", .object([JSONMember("rope_type", .string("linear")), JSONMember("factor", .double(8))])))
        }
        let config = try LlamaConfig(json: json, path: path)
        #expect(config.rope(layer: 1) == .linear(theta: 1e6, factor: 8))
        #expect(config.rope(layer: 0) == .default(theta: 10000))
    }

    @Test func randomInitialisationCentresTheNormsOnZero() throws {
        let model = try LlamaModel(randomlyInitialized: LlamaConfig(contentsOf: path), seed: 3)
        let norms = model.parameters.filter { $0.shape.count == 1 }
        #expect(norms.count == 1 + 2 * 6)
        #expect(norms.allSatisfy { $0.value.array.allSatisfy { $0 == 0 } })
        #expect(model.parameterCount == model.parameters.reduce(0) { $0 + $1.count })
    }
}
