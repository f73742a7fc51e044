// What an optimizer sees of a model: named dense parameters and named low-rank pairs.
//
// Names follow the checkpoint (dense: `transformer.h.0.attn.c_attn.weight`) and PEFT (pairs:
// the module path `transformer.h.0.attn.c_attn`, saved as `base_model.model.<path>.lora_A.weight`).
// A frozen parameter has no gradient buffer at all; gradients accumulate until `zeroGradients`.
// Values, gradients and factors are views of LinearAlgebra Matrix objects (`.matrix`), so the
// LoFT optimizer updates the model's own storage (Training/OptimizerBinding.swift).

import Compute


public final class Parameter {
    public let name: String
    public let shape: [Int]
    public let value: FloatBuffer
    public private(set) var gradient: FloatBuffer?

    public init(name: String, shape: [Int], value: FloatBuffer) {
        precondition(shape.reduce(1, *) == value.count, "Parameter \(name): shape \(shape) for \(value.count) values")
        self.name = name
        self.shape = shape
        self.value = value.asMatrix(shape: shape)
    }

    public convenience init(name: String, shape: [Int]) {
        self.init(name: name, shape: shape, value: FloatBuffer(tensorShape: shape))
    }

    public var count: Int { value.count }
    public var isTrainable: Bool { gradient != nil }

    /// The module a parameter belongs to: its name without the last component.
    public var modulePath: String {
        guard let dot = name.lastIndex(of: ".") else { return "" }
        return String(name[..<dot])
    }

    /// Trainable parameters get a zeroed gradient buffer; frozen ones drop it.
    public func setTrainable(_ trainable: Bool) {
        if trainable { if gradient == nil { gradient = FloatBuffer(tensorShape: shape) } } else { gradient = nil }
    }
}

/// A PEFT LoRA pair on one projection: ΔW = scale · B A, A `rank x in` (lora_A), B `out x rank` (lora_B).
public final class LowRankAdapter {
    /// The module path, e.g. `transformer.h.0.attn.c_attn`.
    public let name: String
    public let inFeatures: Int
    public let outFeatures: Int
    public let rank: Int
    /// lora_alpha / r (LoFT writes alpha = r, so 1).
    public var scale: Float
    public let a: FloatBuffer
    public let b: FloatBuffer
    public let gradientA: FloatBuffer
    public let gradientB: FloatBuffer

    public init(name: String, inFeatures: Int, outFeatures: Int, rank: Int, scale: Float, a: FloatBuffer, b: FloatBuffer) {
        precondition(a.count == rank * inFeatures && b.count == outFeatures * rank, "LowRankAdapter \(name): factor sizes")
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.rank = rank
        self.scale = scale
        self.a = a.asMatrix(shape: [rank, inFeatures])
        self.b = b.asMatrix(shape: [outFeatures, rank])
        gradientA = FloatBuffer(rows: rank, columns: inFeatures)
        gradientB = FloatBuffer(rows: outFeatures, columns: rank)
        pair = LowRankPair(a: self.a.matrix!, b: self.b.matrix!)
    }

    /// The same factors as the LoFT optimizer's pair: its in-place updates are the model's.
    public let pair: LowRankPair

    /// PEFT's default initialisation: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with
    /// a = sqrt(5)), B = 0, so the adapted model starts equal to the base.
    public convenience init(name: String, inFeatures: Int, outFeatures: Int, rank: Int, scale: Float, random: inout SeededGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        let a = FloatBuffer(rows: rank, columns: inFeatures)
        for i in 0..<a.count { a[i] = random.uniform(-bound, bound) }
        self.init(name: name, inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, scale: scale,
                  a: a, b: FloatBuffer(rows: outFeatures, columns: rank))
    }

    public var aShape: [Int] { [rank, inFeatures] }
    public var bShape: [Int] { [outFeatures, rank] }

    public func zeroGradients() { gradientA.zero(); gradientB.zero() }
}

/// PEFT's `target_modules` rule: a module path matches a name when it equals it or ends
/// with "." + name (so "c_proj" matches both attention and MLP projections of GPT-2).
public func moduleMatches(_ path: String, target: String) -> Bool {
    path == target || path.hasSuffix("." + target)
}

/// What a training loop needs from any model here.
public protocol TrainableModel: AnyObject {
    /// Every dense parameter by checkpoint name, frozen or not.
    var parameters: [Parameter] { get }
    /// Every projection module (the things `--targets` and PEFT adapters name), in model order.
    var projections: [Projection] { get }
    /// What is trained when the user names no target (module names, PEFT rule; "all").
    var defaultTargets: [String] { get }
}

extension TrainableModel {
    /// The adapters attached to projections, in model order.
    public var lowRankAdapters: [LowRankAdapter] { projections.compactMap(\.adapter) }

    public var trainableParameters: [Parameter] { parameters.filter(\.isTrainable) }

    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }
    public func lowRankAdapter(named name: String) -> LowRankAdapter? { lowRankAdapters.first { $0.name == name } }

    /// Zeroes every gradient (backward accumulates, so call this once per optimizer step).
    public func zeroGradients() {
        for parameter in parameters { parameter.gradient?.zero() }
        for pair in lowRankAdapters { pair.zeroGradients() }
    }

    /// Freezes everything, then makes trainable the parameters whose module path matches a
    /// target (PEFT rule), or every parameter when `targets` contains "all". Returns the count.
    @discardableResult
    public func setTrainable(targets: [String]) -> Int {
        var count = 0
        for parameter in parameters {
            let on = targets.contains("all") || targets.contains { moduleMatches(parameter.modulePath, target: $0) }
            parameter.setTrainable(on)
            if on { count += 1 }
        }
        return count
    }
}
