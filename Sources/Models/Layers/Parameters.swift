// What an optimizer sees of a model: named dense parameters and named low-rank pairs.
//
// Names follow the checkpoint (dense: `transformer.h.0.attn.c_attn.weight`) and PEFT (pairs:
// the module path `transformer.h.0.attn.c_attn`, saved as `base_model.model.<path>.lora_A.weight`).
// A frozen parameter has no gradient buffer at all; gradients accumulate until `zeroGradients`.
// Values, gradients and factors are views of LinearAlgebra Matrix objects (`.matrix`), so the
// LoFT optimizer updates the model's own storage (Training/OptimizerBinding.swift).

import Compute
import TensorIO


public final class Parameter {
    public let name: String
    public let shape: [Int]
    public private(set) var gradient: FloatBuffer?
    /// The float32 values; nil while the weight is held in 16 bits (`compact`).
    private var floatValue: FloatBuffer?
    /// The frozen weight in 16 bits or block-quantized (`--base-dtype`), multiplied tile by
    /// tile (CompactProducts.swift); nil when the weight is float32.
    public private(set) var compact: CompactMatrix?
    /// The weight is `compact`ᵀ (a GGUF file stores GPT-2's Conv1D weights transposed; its
    /// blocks run along the stored rows, so they are kept as stored and the products swapped).
    public private(set) var compactIsTransposed = false

    public init(name: String, shape: [Int], value: FloatBuffer) {
        precondition(shape.reduce(1, *) == value.count, "Parameter \(name): shape \(shape) for \(value.count) values")
        self.name = name
        self.shape = shape
        floatValue = value.asMatrix(shape: shape)
    }

    /// A frozen 2-D weight held in 16 bits or quantized (`transposed`: the weight is `compact`ᵀ).
    public init(name: String, shape: [Int], compact: CompactMatrix, transposed: Bool = false) {
        let stored = transposed ? [compact.columns, compact.rows] : [compact.rows, compact.columns]
        precondition(shape.count == 2 && shape == stored,
                     "Parameter \(name): shape \(shape) for a \(compact.rows) x \(compact.columns) matrix\(transposed ? " transposed" : "")")
        self.name = name
        self.shape = shape
        self.compact = compact
        compactIsTransposed = transposed
    }

    /// The float32 values. A weight held in 16 bits is widened here for good (the layers'
    /// products never ask: they multiply `compact` tile by tile); what reads or writes the
    /// values themselves (training it, folding an adapter into it) gets a float32 weight.
    public var value: FloatBuffer {
        if let floatValue { return floatValue }
        let widened = widenedValue()
        floatValue = widened
        compact = nil
        compactIsTransposed = false
        return widened
    }

    /// A float32 copy of the values, leaving the weight held as it is (a tied embedding
    /// becoming an untied head).
    public func widenedValue() -> FloatBuffer {
        guard let compact else { return FloatBuffer(value.array).asMatrix(shape: shape) }
        let stored = compact.widened()
        guard compactIsTransposed else { return stored }
        let out = FloatBuffer(rows: shape[0], columns: shape[1])
        let source = stored.pointer, target = out.pointer, rows = compact.rows, columns = compact.columns
        Parallel.forEachRange(count: columns, minimumChunk: max(1, (1 << 14) / max(rows, 1))) { range in
            for c in range { for r in 0..<rows { target[c * rows + r] = source[r * columns + c] } }
        }
        return out
    }

    /// How the value is held: "f32", "bf16", "f16" or the quantized format ("q4_k", "mlx-q4/g64").
    public var storageDType: String { compact?.storageName ?? "f32" }

    /// Bytes the value takes in memory as held.
    public var storageBytes: Int { compact?.byteCount ?? 4 * (floatValue?.count ?? 0) }

    /// Holds a frozen 2-D weight in 16 bits from now on (rounded to nearest even); a no-op
    /// for a trainable or 1-D parameter, which stay float32.
    public func storeCompact(_ dtype: CompactDType) {
        guard gradient == nil, shape.count == 2, let floatValue else { return }
        compact = CompactMatrix(rows: shape[0], columns: shape[1], dtype: dtype, rounding: floatValue.pointer)
        self.floatValue = nil
    }

    /// Holds a frozen 2-D weight block-quantized to `type` from now on (loft's quantizer,
    /// ggml's reference); a row that is not whole blocks takes llama-quantize's fallback type,
    /// and one with no quantized fallback float16. A no-op for a trainable or 1-D parameter.
    public func storeQuantized(_ type: GGMLType) {
        guard gradient == nil, shape.count == 2, let floatValue else { return }
        guard let matrix = CompactMatrix.quantizing(floatValue.pointer, rows: shape[0], columns: shape[1], as: type) else {
            return storeCompact(.float16)
        }
        compact = matrix
        self.floatValue = nil
    }

    public convenience init(name: String, shape: [Int]) {
        self.init(name: name, shape: shape, value: FloatBuffer(tensorShape: shape))
    }

    /// The number of values (asking does not widen a weight held compact).
    public var count: Int { shape.reduce(1, *) }
    public var isTrainable: Bool { gradient != nil }

    /// The module a parameter belongs to: its name without the last component.
    public var modulePath: String {
        guard let dot = name.lastIndex(of: ".") else { return "" }
        return String(name[..<dot])
    }

    /// Trainable parameters get a zeroed gradient buffer; frozen ones drop it.
    /// A weight held in 16 bits is widened to float32 first: what is trained is float32.
    public func setTrainable(_ trainable: Bool) {
        if trainable { _ = value; if gradient == nil { gradient = FloatBuffer(tensorShape: shape) } } else { gradient = nil }
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

extension TrainableModel {
    /// Holds every frozen 2-D weight in 16 bits from now on (rounded to nearest even): what
    /// `--base-dtype bf16|f16` does at load, for a model already in memory (a random one).
    public func storeFrozenWeights(as dtype: CompactDType) {
        for parameter in parameters { parameter.storeCompact(dtype) }
    }

    /// `--base-compute bf16`: every frozen weight held in bfloat16 multiplies in bfloat16 from
    /// now on (CompactBF16Products.swift), or, with `false`, in float32 again. Returns how
    /// many weights that covers (a weight in float32 or float16 keeps float32 compute).
    @discardableResult
    public func computeFrozenWeights(inBF16 on: Bool) -> Int {
        var count = 0
        for parameter in parameters {
            guard let compact = parameter.compact, compact.dtype == .bfloat16 else { continue }
            compact.computesInBF16 = on
            count += 1
        }
        return count
    }

    /// Holds every frozen 2-D weight quantized to `type` (`--base-dtype q4_k` for a model
    /// already in memory).
    public func storeFrozenWeights(quantizedAs type: GGMLType) {
        for parameter in parameters { parameter.storeQuantized(type) }
    }

    /// `--base-dtype` applied to a model already in memory (a random one): auto and f32 keep
    /// float32.
    public func storeFrozenWeights(as choice: BaseDType) {
        switch choice {
        case .auto, .f32: break
        case .bf16: storeFrozenWeights(as: CompactDType.bfloat16)
        case .f16: storeFrozenWeights(as: CompactDType.float16)
        default: storeFrozenWeights(quantizedAs: choice.quantizedType!)
        }
    }
}
