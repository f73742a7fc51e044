// One projection module of a model (nn.Linear or GPT-2 Conv1D), its parameters and an
// optional low-rank adapter: the unit that `--targets` names and PEFT adapts.

public final class Projection {
    /// Module path, e.g. `transformer.h.0.attn.c_attn` or `layers.0`.
    public let name: String
    public let weight: Parameter
    public let bias: Parameter?
    public let layout: WeightLayout
    public let inFeatures: Int
    public let outFeatures: Int
    public var adapter: LowRankAdapter? {
        didSet {
            if let adapter {
                precondition(adapter.inFeatures == inFeatures && adapter.outFeatures == outFeatures,
                             "adapter \(adapter.name) does not fit \(name)")
            }
        }
    }

    public init(name: String, weight: Parameter, bias: Parameter?, layout: WeightLayout) {
        precondition(weight.shape.count == 2, "Projection \(name): weight must be 2-D")
        self.name = name
        self.weight = weight
        self.bias = bias
        self.layout = layout
        switch layout {
        case .outIn: (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        case .inOut: (inFeatures, outFeatures) = (weight.shape[0], weight.shape[1])
        }
        precondition(bias == nil || bias!.count == outFeatures, "Projection \(name): bias size")
    }

    /// y[rows, out] = x W(ᵀ) + b (+ scale x Aᵀ Bᵀ, keeping x Aᵀ in `adapterHidden`, rows·rank floats).
    public func forward(output y: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>,
                        adapterHidden: UnsafeMutablePointer<Float>?, rows: Int) {
        Linear.forward(output: y, input: x, weight: weight, bias: bias?.value.pointer,
                       rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
        if let adapter {
            guard let adapterHidden else { preconditionFailure("Projection \(name): adapter without hidden buffer") }
            LowRank.forward(output: y, hidden: adapterHidden, input: x, a: adapter.a.pointer, b: adapter.b.pointer,
                            scale: adapter.scale, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                            rank: adapter.rank)
        }
    }

    /// dx overwritten (when asked), trainable weight/bias gradients and the adapter's factor
    /// gradients accumulated. `adapterScratch` holds rows·rank floats.
    public func backward(inputGradient dx: UnsafeMutablePointer<Float>?, outputGradient dy: UnsafePointer<Float>,
                         input x: UnsafePointer<Float>, adapterHidden: UnsafePointer<Float>?,
                         adapterScratch: UnsafeMutablePointer<Float>?, rows: Int) {
        Linear.backward(inputGradient: dx, weightGradient: weight.gradient?.pointer, biasGradient: bias?.gradient?.pointer,
                        outputGradient: dy, input: x, weight: weight,
                        rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
        if let adapter {
            guard let adapterHidden, let adapterScratch else { preconditionFailure("Projection \(name): adapter buffers missing") }
            LowRank.backward(inputGradient: dx, gradientA: adapter.gradientA.pointer, gradientB: adapter.gradientB.pointer,
                             hiddenGradient: adapterScratch, outputGradient: dy, input: x, hidden: adapterHidden,
                             a: adapter.a.pointer, b: adapter.b.pointer, scale: adapter.scale,
                             rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, rank: adapter.rank)
        }
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}
