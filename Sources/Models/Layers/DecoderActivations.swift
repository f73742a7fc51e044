// The buffers every decoder-only language model (GPT-2, LLaMA and its relatives) keeps
// around its blocks for one (batch, sequence), reused across steps: the tokens and targets
// of the forward, the embedding output, the final norm's output (the head's input), the
// logits or a block of head rows, backward's residual-stream gradients, and the x Aᵀ of
// every adapted projection. What a family keeps inside its blocks (norm statistics, q/k/v,
// MLP pre-activations) lives in its own subclass, next to its forward and backward.

public class DecoderActivations {
    let batch: Int, sequence: Int
    var tokens: [Int32] = []
    var targets: [Int32]?
    var countedTargets = 0
    /// Set by forward with targets, cleared by backward (which consumes the logits).
    var readyForBackward = false

    /// The first block's input [N, C].
    let embedded: FloatBuffer
    /// The final norm's output [N, C]: the head's input.
    let finalHidden: FloatBuffer
    /// [N, vocab], allocated by the first `forward` (forwardBackward and loss never hold it).
    var logits: FloatBuffer?
    /// A block of head rows x vocab for forwardBackward and loss.
    var headChunk = FloatBuffer(count: 0)
    /// Backward's d(residual stream) and d(a branch's input or output) [N, C], shared by all layers.
    let dResidual: FloatBuffer, dChannels: FloatBuffer

    /// x Aᵀ of the adapted projections, `projectionsPerLayer` per block in block order.
    let adapters = AdapterActivations()
    let projectionsPerLayer: Int

    init(batch: Int, sequence: Int, channels: Int, projectionsPerLayer: Int) {
        self.batch = batch
        self.sequence = sequence
        let N = batch * sequence
        embedded = FloatBuffer(count: N * channels)
        finalHidden = FloatBuffer(count: N * channels)
        dResidual = FloatBuffer(count: N * channels)
        dChannels = FloatBuffer(count: N * channels)
        self.projectionsPerLayer = projectionsPerLayer
    }

    var rows: Int { batch * sequence }

    /// x Aᵀ of projection `slot` of block `layer` (nil when not adapted).
    func adapterHidden(layer: Int, _ slot: Int) -> UnsafeMutablePointer<Float>? { adapters[layer * projectionsPerLayer + slot] }
}
