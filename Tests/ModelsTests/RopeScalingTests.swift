// Rope scaling as released checkpoints use it (fixtures/rope, made by generators/rope.py with
// transformers 5.25 and llama.cpp's convert_hf_to_gguf.py): Llama 3.1's llama3 scaling, linear
// scaling on a LLaMA model and on Gemma 3's global layers only. Logits against transformers
// (max |ours - torch| / max |torch| < 1e-5, as the family tests); the llama3 GGUF file the
// converter wrote read back as the same model; hostile rope_freqs tensors refused.

import Foundation
import Testing
import TensorIO
@testable import Models

enum RopeFixtures {
    static let directory = LlamaFixtures.directory.deletingLastPathComponent().appendingPathComponent("rope")
    static let models = ["llama3", "linear", "gemma3-linear"]
    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    static func logits(_ model: LlamaModel, fixture: String) throws -> [Float] {
        let ids = try Fixtures.ints(try SafetensorsReader(path: path("\(fixture)/input_ids.safetensors")), "input_ids")
        _ = try model.forward(tokens: ids, targets: nil, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence)
        return Array(model.logits)
    }

    static func expectedLogits(_ fixture: String) throws -> [Float] {
        try Fixtures.floats(try SafetensorsReader(path: path("\(fixture)/expected-base.safetensors")), "logits")
    }
}

@Test(arguments: RopeFixtures.models)
func ropeScaledLogitsEqualTransformers(fixture: String) throws {
    let model = try LlamaModel.load(path: RopeFixtures.path(fixture))
    #expect(Fixtures.relativeError(try RopeFixtures.logits(model, fixture: fixture), try RopeFixtures.expectedLogits(fixture)) < 1e-5)
}

@Test func ropeScalingIsReadFromEachSpelling() throws {
    let llama3 = try LlamaConfig(contentsOf: RopeFixtures.path("llama3/config.json"))
    #expect(llama3.rope == .llama3(theta: 500000, factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalPositions: 8192))
    #expect(try LlamaConfig(contentsOf: RopeFixtures.path("linear/config.json")).rope == .linear(theta: 10000, factor: 4))
    // Gemma 3: linear on the global layer (5) only; the sliding layers keep their own default rope.
    let gemma = try LlamaConfig(contentsOf: RopeFixtures.path("gemma3-linear/config.json"))
    #expect(gemma.rope(layer: 5) == .linear(theta: 1e6, factor: 8))
    #expect((0..<5).allSatisfy { gemma.rope(layer: $0) == .default(theta: 10000) })
    // The older top-level spelling (transformers 4, the released Gemma 3 and LLaMA configs).
    let legacy = JSONValue.object([JSONMember("rope_theta", .double(10000)),
                                   JSONMember("rope_scaling", .object([JSONMember("type", .string("linear")), JSONMember("factor", .double(2))]))])
    #expect(try RopeScaling(json: legacy, positions: 64, path: "c") == .linear(theta: 10000, factor: 2))
    // What loft writes, read again, is the same scaling.
    for config in [llama3, try LlamaConfig(contentsOf: RopeFixtures.path("linear/config.json")), gemma] {
        #expect(try LlamaConfig(json: config.json, path: "written").rope == config.rope)
    }
    #expect(try LlamaConfig(json: gemma.json, path: "written").rope(layer: 0) == .default(theta: 10000))
    // A scaled sliding-layer rope (no released config has one) survives writing too.
    var scaledLocal = gemma
    scaledLocal.localRope = .linear(theta: 10000, factor: 2)
    let reread = try LlamaConfig(json: scaledLocal.json, path: "written")
    #expect(reread.rope(layer: 0) == .linear(theta: 10000, factor: 2) && reread.rope(layer: 5) == .linear(theta: 1e6, factor: 8))
}

@Test func linearScalingDividesEveryFrequency() {
    let plain = RotaryEmbedding.inverseFrequencies(headDimension: 16, scaling: .default(theta: 10000))
    let linear = RotaryEmbedding.inverseFrequencies(headDimension: 16, scaling: .linear(theta: 10000, factor: 4))
    #expect(zip(plain, linear).allSatisfy { $0 / 4 == $1 })
}

@Test func badRopeScalingIsRefused() {
    for (scaling, words) in [(#"{"rope_type": "linear"}"#, "needs a positive number 'factor'"),
                             (#"{"rope_type": "linear", "factor": 0}"#, "needs a positive number 'factor'"),
                             (#"{"rope_type": "yarn", "factor": 4}"#, "'yarn' is not supported")] {
        let json = try! JSON.parse("{\"rope_scaling\": \(scaling)}")
        #expect { try RopeScaling(json: json, positions: 64, path: "c") } throws: { "\($0)".contains(words) }
    }
}

@Suite struct Llama3GGUFTests {
    static let gguf = RopeFixtures.path("llama3/llama3.gguf")

    /// The divisors llama.cpp's converter wrote are what loft computes, bit for bit.
    @Test func llama3FactorsAreTheConvertersTensor() throws {
        let file = try GGUFReader(path: Self.gguf)
        let stored = try file.data(for: "rope_freqs.weight").withElements(as: Float.self) { Array($0) }
        let config = try LlamaConfig(contentsOf: RopeFixtures.path("llama3/config.json"))
        let ours = RotaryEmbedding.llama3Factors(headDimension: 64, scaling: config.rope)
        #expect(ours.map(\.bitPattern) == stored.map(\.bitPattern))
        #expect(Set(stored).count == 5, "the fixture covers 1, 8 and three band values")
    }

    /// The converter's file reads as the original model: the llama3 parameters recovered
    /// exactly (Llama 3's 8192 original context, which the file does not carry) and the same logits.
    @Test func convertersFileReadsAsTheModel() throws {
        let source = try GGUFModelReader.source(path: Self.gguf)
        let original = try JSONFile.read(RopeFixtures.path("llama3/config.json"))
        #expect(try LlamaConfig(json: source.config!, path: "gguf").rope == LlamaConfig(json: original, path: "c").rope)
        #expect(!(source.reader.tensors.contains { $0.name.contains("rope") }))
        let model = try LlamaModel.load(source)
        #expect(Fixtures.relativeError(try RopeFixtures.logits(model, fixture: "llama3"), try RopeFixtures.expectedLogits("llama3")) < 1e-5)
    }

    /// Curves with fewer than two points in the smoothed band do not pin low and high down;
    /// the values chosen still reproduce every divisor (the recovery's own check). Llama 3.1's
    /// and 3.2's parameters (factor 8 or 32) at their head widths (64, 128) come back exactly.
    @Test(arguments: [
        RopeScaling.llama3(theta: 10000, factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalPositions: 32),  // one band point
        .llama3(theta: 10000, factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 1.2, originalPositions: 32),  // none
        .llama3(theta: 500000, factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalPositions: 8192),  // Llama 3.2's factor
        .llama3(theta: 500000, factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalPositions: 8192),
    ])
    func recoveryReproducesTheDivisors(rope: RopeScaling) throws {
        for headDimension in [16, 64, 128] {
            let factors = RotaryEmbedding.llama3Factors(headDimension: headDimension, scaling: rope)
            let recovered = try #require(try Llama3RopeRecovery.recover(factors: factors, theta: rope.theta, headDimension: headDimension,
                                                                        originalPositions: 8192, path: "f"))
            let again = RotaryEmbedding.llama3Factors(headDimension: headDimension, scaling: recovered)
            #expect(zip(again, factors).allSatisfy { abs($0 - $1) <= 1e-6 * $1 }, "\(recovered)")
            if case let .llama3(_, _, _, _, original) = rope, original == 8192, headDimension >= 64 { #expect(recovered == rope) }
        }
    }

    /// A copy of the fixture's metadata with `values` as rope_freqs.weight (no other tensor:
    /// the config, where the tensor is read, comes first).
    static func hostile(_ values: [Float], _ scratch: String, metadata extra: [(key: String, value: GGUFValue)] = []) throws -> String {
        let header = try GGUFReader(path: gguf).header
        let path = scratch + "/hostile-\(values.count)-\(values.first ?? 0).gguf"
        let writer = try GGUFWriter(path: path, metadata: header.metadata + extra,
                                    tensors: [GGUFTensorPlan(name: "rope_freqs.weight", dims: [values.count], type: .F32)])
        try values.withUnsafeBufferPointer { try writer.write(values: $0) }
        try writer.commit()
        return path
    }

    @Test func hostileRopeFrequenciesAreClearErrors() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("loft-rope-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let good = try GGUFReader(path: Self.gguf).data(for: "rope_freqs.weight").withElements(as: Float.self) { Array($0) }
        func with(_ index: Int, _ value: Float) -> [Float] { var v = good; v[index] = value; return v }
        let cases: [([Float], String)] = [
            (Array(good.prefix(31)), "rope_freqs.weight has shape [31], expected [32] (head_dim 64 / 2)"),
            (good + [1], "has shape [33], expected [32]"),
            (with(3, .nan), "rope_freqs.weight value 3 is nan; rope frequency divisors must be finite and positive"),
            (with(30, .infinity), "value 30 is inf"),
            (with(0, 0), "value 0 is 0.0"),
            (with(7, -2), "value 7 is -2.0"),
            (good.reversed(), "is not a llama3 rope scaling curve"),
            (with(16, 3), "is not a llama3 rope scaling curve"),
            ((0..<32).map { Float(1 + $0) / 4 }, "is not a llama3 rope scaling curve"),
        ]
        for (values, words) in cases {
            let path = try Self.hostile(values, scratch)
            #expect { try GGUFModelReader(GGUFReader(path: path)) } throws: { "\($0)".contains(words) && "\($0)".contains(path) }
            try? FileManager.default.removeItem(atPath: path)
        }
        let linear = try Self.hostile(good, scratch, metadata: [("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float32(2))])
        #expect { try GGUFModelReader(GGUFReader(path: linear)) } throws: { "\($0)".contains("together with llama.rope.scaling.type linear") }
        // All ones is no scaling at all.
        let ones = try GGUFModelReader(GGUFReader(path: try Self.hostile([Float](repeating: 1, count: 32), scratch)))
        #expect(ones.config["rope_scaling"] == .null)
    }
}
