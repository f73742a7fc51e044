// One adapter applied to a model held in float32 (`loft eval`, `loft generate`), with the
// rules and the arithmetic of `loft merge`, so the three commands accept, refuse and compute
// the same adapters.
//
// The adapter is planned against the model's parameters (name, shape) by MergePlan, which
// matches every adapter tensor to a tensor, checks shapes and unties a tied head. Then:
//   - a plain LoRA term on a projection weight (no DoRA magnitude, no lora_B bias, nothing
//     else touching that weight) becomes the model's low-rank branch: the model computes
//     x Wᵀ + scale (x Aᵀ) Bᵀ as PEFT's unmerged model does, and loft can train it further;
//   - everything else (DoRA, lora_B biases, embedding LoRA, modules_to_save replacements) is
//     folded into the float32 weights by MergeKernel.merge, the merge's own float64 formula,
//     rounded once to float32.
// The model side (Training) attaches the branches, gives a tied head its own copy of the
// embedding when `untiedHead` says so, then calls `fold` on each tensor of `foldedTensors`.

import TensorIO

/// A plain LoRA term to attach as a projection's low-rank branch (PEFT's layout).
public struct LowRankBranch {
    /// The model's projection module, e.g. `transformer.h.0.attn.c_attn`.
    public let module: String
    public let rank: Int
    /// lora_alpha / r (or / sqrt(r), or mlx-lm's scale).
    public let scale: Double
    /// A, rank x inFeatures, row-major.
    public let a: [Float]
    /// B, outFeatures x rank, row-major.
    public let b: [Float]
}

public final class AttachmentPlan {
    public let adapter: Adapter
    public let branches: [LowRankBranch]
    /// Model tensors whose values change, in the model's order (an untied head last).
    public let foldedTensors: [String]
    /// The name of the head (`lm_head.weight`) the model must give its own copy of the tied
    /// input embedding before any fold: the adapter changes the embedding but, as in PEFT's
    /// model, not the output head.
    public let untiedHead: String?
    /// What the adapter touches, one line per module (as `loft merge` reports it).
    public let modules: [MergedModule]
    private let plans: [String: TensorPlan]

    /// - Parameters:
    ///   - tensors: the model's float32 parameters by checkpoint name (no head when tied).
    ///   - projections: the modules that take a low-rank branch, with their features.
    ///   - model: how to name the model in messages (its path).
    public init(adapter: Adapter, tensors: [TensorInfo], projections: [(module: String, inFeatures: Int, outFeatures: Int)],
                model: String) throws {
        self.adapter = adapter
        let plan = try MergePlan(baseTensors: tensors, baseDescription: model, adapters: [(adapter, 1)], subtract: false, dtype: nil)
        var features: [String: (inFeatures: Int, outFeatures: Int)] = [:]
        for projection in projections { features[projection.module + ".weight"] = (projection.inFeatures, projection.outFeatures) }

        var branches: [LowRankBranch] = []
        var folded: [String: TensorPlan] = [:]
        var order: [String] = []
        for tensor in plan.tensors where !tensor.isUntouched {
            let name = tensor.output.name
            if let term = tensor.lowRank.first, tensor.lowRank.count == 1, tensor.replacement == nil, tensor.magnitude == nil,
               tensor.vectors.isEmpty, term.update.bias == nil, !term.update.isEmbedding, tensor.baseName == name,
               let shape = features[name], shape.inFeatures == term.update.aColumns, shape.outFeatures == term.update.bRows {
                branches.append(LowRankBranch(
                    module: String(name.dropLast(".weight".count)), rank: term.update.rank, scale: term.coefficient,
                    a: term.update.a.map { Float($0) }, b: term.update.b.map { Float($0) }))
            } else {
                folded[name] = tensor
                order.append(name)
            }
        }
        self.branches = branches
        plans = folded
        foldedTensors = order
        untiedHead = plan.untied.first
        modules = plan.modules
    }

    /// Replaces `values`, the model's float32 tensor `name` (one of `foldedTensors`), by its
    /// merged values. A head untied for this adapter holds the embedding's copy by now.
    public func fold(_ name: String, into values: UnsafeMutableBufferPointer<Float>) throws {
        guard let plan = plans[name] else { return }
        precondition(values.count == plan.output.elementCount, "AttachmentPlan.fold: \(name) has \(values.count) values")
        let current = TensorData(info: TensorInfo(name: name, dtype: .F32, shape: plan.output.shape),
                                 bytes: UnsafeRawBufferPointer(values), owner: nil)
        // Non-finite results are the model's to report (eval's loss, generate's logits).
        let merged = try MergeKernel.withSingleThreadedBLAS {
            try MergeKernel.merge(plan, source: plan.replacement ?? current, allowNonFinite: true)
        }
        UnsafeMutableRawBufferPointer(values).copyMemory(from: merged.bytes)
    }
}
