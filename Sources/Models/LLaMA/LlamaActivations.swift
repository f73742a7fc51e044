// The buffers one LLaMA forward pass fills and backward reads, allocated for a
// (batch, sequence) and reused across steps.
//
// Kept per layer: both RMSNorm outputs and their 1/rms, q and k after rotary embedding, v,
// the attention output (not the probabilities: backward recomputes them), the residual after attention, and the
// MLP's gate and up outputs. silu(gate) · up is not kept: backward recomputes it (one cheap
// elementwise pass instead of N · intermediate floats per layer). Backward's gradient
// buffers are shared by all layers.

final class LlamaLayerActivations {
    let norm1: FloatBuffer, rstd1: FloatBuffer
    let query: FloatBuffer, key: FloatBuffer, value: FloatBuffer
    let attentionOut: FloatBuffer
    let residual2: FloatBuffer
    let norm2: FloatBuffer, rstd2: FloatBuffer
    let gate: FloatBuffer, up: FloatBuffer
    let residual3: FloatBuffer
    /// x Aᵀ of each adapted projection (q, k, v, o, gate, up, down), when adapted.
    var adapterHidden: [FloatBuffer?] = Array(repeating: nil, count: 7)

    init(config: LlamaConfig, batch: Int, sequence: Int) {
        let N = batch * sequence, C = config.hidden
        norm1 = FloatBuffer(count: N * C); rstd1 = FloatBuffer(count: N)
        query = FloatBuffer(count: N * config.queryWidth)
        key = FloatBuffer(count: N * config.keyValueWidth)
        value = FloatBuffer(count: N * config.keyValueWidth)
        attentionOut = FloatBuffer(count: N * config.queryWidth)
        residual2 = FloatBuffer(count: N * C)
        norm2 = FloatBuffer(count: N * C); rstd2 = FloatBuffer(count: N)
        gate = FloatBuffer(count: N * config.intermediate)
        up = FloatBuffer(count: N * config.intermediate)
        residual3 = FloatBuffer(count: N * C)
    }
}

final class LlamaActivations {
    let batch: Int, sequence: Int
    var tokens: [Int32] = []
    var targets: [Int32]?
    var countedTargets = 0
    /// Set by forward with targets, cleared by backward (which consumes the logits).
    var readyForBackward = false

    let embedded: FloatBuffer
    let layers: [LlamaLayerActivations]
    let finalNormOut: FloatBuffer, finalRstd: FloatBuffer
    /// [N, vocab], allocated by the first `forward` (forwardBackward never holds it).
    var logits: FloatBuffer?
    /// forwardBackward's block of head rows x vocab.
    var headChunk = FloatBuffer(count: 0)

    // Scratch: silu(gate) · up (forward, recomputed in backward) and backward's gradients.
    let gated: FloatBuffer
    let dResidual: FloatBuffer, dChannels: FloatBuffer, dChannelsPart: FloatBuffer
    let dAttention: FloatBuffer, dQuery: FloatBuffer, dKey: FloatBuffer, dValue: FloatBuffer
    let dGate: FloatBuffer, dUp: FloatBuffer
    var adapterScratch = FloatBuffer(count: 0)

    init(config: LlamaConfig, batch: Int, sequence: Int) {
        self.batch = batch
        self.sequence = sequence
        let N = batch * sequence, C = config.hidden, I = config.intermediate
        embedded = FloatBuffer(count: N * C)
        layers = (0..<config.layers).map { _ in LlamaLayerActivations(config: config, batch: batch, sequence: sequence) }
        finalNormOut = FloatBuffer(count: N * C); finalRstd = FloatBuffer(count: N)
        gated = FloatBuffer(count: N * I)
        dResidual = FloatBuffer(count: N * C)
        dChannels = FloatBuffer(count: N * C)
        dChannelsPart = FloatBuffer(count: N * C)
        dAttention = FloatBuffer(count: N * config.queryWidth)
        dQuery = FloatBuffer(count: N * config.queryWidth)
        dKey = FloatBuffer(count: N * config.keyValueWidth)
        dValue = FloatBuffer(count: N * config.keyValueWidth)
        dGate = FloatBuffer(count: N * I)
        dUp = FloatBuffer(count: N * I)
    }

    /// Makes sure every adapted projection has its N x rank buffer (adapters can be attached
    /// or replaced between steps).
    func prepareAdapters(_ blocks: [LlamaBlock]) {
        let N = batch * sequence
        var maxRank = 0
        for (block, layer) in zip(blocks, layers) {
            for (index, projection) in block.projections.enumerated() {
                guard let adapter = projection.adapter else { layer.adapterHidden[index] = nil; continue }
                maxRank = max(maxRank, adapter.rank)
                if layer.adapterHidden[index]?.count != N * adapter.rank { layer.adapterHidden[index] = FloatBuffer(count: N * adapter.rank) }
            }
        }
        if adapterScratch.count < N * maxRank { adapterScratch = FloatBuffer(count: N * maxRank) }
    }
}
