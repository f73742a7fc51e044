// Attaching an adapter directory (PEFT's, mlx-lm's or loft's own) to a loaded model, for
// `loft eval` and `loft generate`. Adapters' AttachmentPlan reads the adapter and decides,
// by the rules `loft merge` follows, which terms become the model's low-rank branches and
// which are folded into its float32 weights; this file hands it the model's tensors and
// carries out its answer.

import Adapters
import Models
import TensorIO

extension TrainableModel {
    /// Applies the adapter in `directory` to this model (loaded from `modelPath`, named in
    /// messages) and returns what was done: the branches attached and the tensors folded.
    @discardableResult
    public func attachAdapter(directory: String, modelPath: String) throws -> AttachmentPlan {
        let plan = try AttachmentPlan(
            adapter: try Adapter(directory: directory),
            tensors: parameters.map { TensorInfo(name: $0.name, dtype: .F32, shape: $0.shape) },
            projections: projections.map { ($0.name, $0.inFeatures, $0.outFeatures) },
            model: modelPath)
        if let head = plan.untiedHead {
            // Only a language model has an input embedding an adapter could name.
            guard let language = self as? CausalLanguageModel else {
                throw AdapterError.unsupportedCombination(tensor: head, reason: "the model ties its head to the embedding and cannot untie it")
            }
            language.untieHead()
        }
        for branch in plan.branches {
            try setLowRankAdapter(module: branch.module, a: branch.a, b: branch.b, rank: branch.rank, scale: Float(branch.scale))
        }
        for name in plan.foldedTensors {
            guard let parameter = parameter(named: name) else {
                preconditionFailure("AttachmentPlan folds \(name), which the model does not have")
            }
            try plan.fold(name, into: parameter.value.buffer)
        }
        return plan
    }
}
