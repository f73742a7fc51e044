// A GPT-2 language model: its parameters by Hugging Face name, built from a checkpoint or at
// random. Forward and backward live in GPT2Training.swift, the activation buffers in
// GPT2Activations.swift.
//
// Every parameter is named with the `transformer.` prefix (as in GPT2LMHeadModel and PEFT
// keys) whether or not the file had it. The head is tied to wte unless the file carries an
// `lm_head.weight` that differs from it. `attn.bias` / `attn.masked_bias` (mask buffers of
// old files) are ignored.

import Compute
import TensorIO

public final class GPT2Block {
    public let ln1Weight: Parameter, ln1Bias: Parameter
    /// attn.c_attn: C -> 3C (q | k | v).
    public let attention: Projection
    /// attn.c_proj: C -> C.
    public let attentionOutput: Projection
    public let ln2Weight: Parameter, ln2Bias: Parameter
    /// mlp.c_fc: C -> inner.
    public let feedForward: Projection
    /// mlp.c_proj: inner -> C.
    public let feedForwardOutput: Projection

    init(index: Int, config: GPT2Config, load: (String, [Int]) throws -> Parameter) throws {
        let prefix = "transformer.h.\(index)."
        let C = config.channels, inner = config.innerChannels
        func projection(_ module: String, _ inFeatures: Int, _ outFeatures: Int) throws -> Projection {
            Projection(name: prefix + module, weight: try load(prefix + module + ".weight", [inFeatures, outFeatures]),
                       bias: try load(prefix + module + ".bias", [outFeatures]), layout: .inOut)
        }
        ln1Weight = try load(prefix + "ln_1.weight", [C])
        ln1Bias = try load(prefix + "ln_1.bias", [C])
        attention = try projection("attn.c_attn", C, 3 * C)
        attentionOutput = try projection("attn.c_proj", C, C)
        ln2Weight = try load(prefix + "ln_2.weight", [C])
        ln2Bias = try load(prefix + "ln_2.bias", [C])
        feedForward = try projection("mlp.c_fc", C, inner)
        feedForwardOutput = try projection("mlp.c_proj", inner, C)
    }

    public var projections: [Projection] { [attention, attentionOutput, feedForward, feedForwardOutput] }

    public var parameters: [Parameter] {
        [ln1Weight, ln1Bias] + attention.parameters + attentionOutput.parameters
            + [ln2Weight, ln2Bias] + feedForward.parameters + feedForwardOutput.parameters
    }
}

public final class GPT2Model: TrainableModel {
    public let config: GPT2Config
    public let tokenEmbedding: Parameter
    public let positionEmbedding: Parameter
    public let blocks: [GPT2Block]
    public let finalNormWeight: Parameter
    public let finalNormBias: Parameter
    /// An untied output head (`lm_head.weight`, vocab x C); nil when tied to wte.
    public private(set) var untiedHead: Parameter?

    public private(set) var parameters: [Parameter]
    public let projections: [Projection]
    public internal(set) var activations: GPT2Activations?

    private init(config: GPT2Config, untiedHead: Parameter?, load: (String, [Int]) throws -> Parameter) throws {
        self.config = config
        let C = config.channels
        tokenEmbedding = try load("transformer.wte.weight", [config.vocabularySize, C])
        positionEmbedding = try load("transformer.wpe.weight", [config.positions, C])
        blocks = try (0..<config.layers).map { try GPT2Block(index: $0, config: config, load: load) }
        finalNormWeight = try load("transformer.ln_f.weight", [C])
        finalNormBias = try load("transformer.ln_f.bias", [C])
        self.untiedHead = untiedHead
        parameters = [tokenEmbedding, positionEmbedding] + blocks.flatMap(\.parameters) + [finalNormWeight, finalNormBias]
            + (untiedHead.map { [$0] } ?? [])
        projections = blocks.flatMap(\.projections)
    }

    /// Loads every weight from `reader` (keys with or without `transformer.`), upcast to
    /// float32, or the 2-D ones held in 16 bits as `baseDType` says.
    public convenience init(config: GPT2Config, reader: TensorReader, baseDType: BaseDType = .f32) throws {
        try config.validate(path: reader.path)
        let names = Set(reader.tensors.map(\.name))
        func load(_ name: String, _ shape: [Int]) throws -> Parameter {
            let bare = String(name.dropFirst("transformer.".count))
            let stored = names.contains(name) ? name : names.contains(bare) ? bare : nil
            guard let stored else { throw ModelError.missingTensor(path: reader.path, name: name) }
            return try loadParameter(reader, name: name, stored: stored, shape: shape, baseDType: baseDType)
        }
        var head: Parameter?
        if names.contains("lm_head.weight") {
            let candidate = try load("lm_head.weight", [config.vocabularySize, config.channels])
            let wteName = names.contains("transformer.wte.weight") ? "transformer.wte.weight" : "wte.weight"
            let wte = try loadFloats(reader, name: wteName, shape: [config.vocabularySize, config.channels])
            let stored = try loadFloats(reader, name: "lm_head.weight", shape: candidate.shape)
            if !(0..<wte.count).allSatisfy({ wte[$0] == stored[$0] }) { head = candidate }
        }
        try self.init(config: config, untiedHead: head, load: load)
    }

    /// A freshly initialised model as Hugging Face's GPT2PreTrainedModel does it: weights and
    /// embeddings N(0, 0.02), the two residual projections (attn.c_proj, mlp.c_proj)
    /// N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm weight 1.
    public convenience init(randomlyInitialized config: GPT2Config, seed: UInt64) throws {
        try config.validate(path: "<config>")
        var random = SeededGenerator(seed: seed)
        let residualStd = 0.02 / Float(2 * config.layers).squareRoot()
        try self.init(config: config, untiedHead: nil) { name, shape in
            initializedParameter(name, shape, std: name.hasSuffix("c_proj.weight") ? residualStd : 0.02, random: &random)
        }
    }

    public func untieHead() {
        guard let copy = untiedHeadCopy() else { return }
        untiedHead = copy
        parameters.append(copy)
    }
}
