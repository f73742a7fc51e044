// The buffers one forward pass fills and backward reads, allocated for a (batch, sequence)
// and reused across steps.
//
// Kept per layer: the normalised inputs, q|k|v, the attention output, both residual sums and
// the MLP pre-activation. Recomputed in backward instead of kept: the GELU output (4·N·C
// floats per layer, one cheap pass) and the attention probabilities (B·H·T² floats per
// layer, one T x T x hs product per head).
// Backward's gradient buffers are shared by all layers.

final class GPT2LayerActivations {
    let ln1: FloatBuffer, ln1Mean: FloatBuffer, ln1Rstd: FloatBuffer
    let qkv: FloatBuffer
    let attentionOut: FloatBuffer
    let residual2: FloatBuffer
    let ln2: FloatBuffer, ln2Mean: FloatBuffer, ln2Rstd: FloatBuffer
    let feedForward: FloatBuffer
    let residual3: FloatBuffer
    /// x Aᵀ of each adapted projection (c_attn, attn.c_proj, c_fc, mlp.c_proj), when adapted.
    var adapterHidden: [FloatBuffer?] = [nil, nil, nil, nil]

    init(config: GPT2Config, batch: Int, sequence: Int) {
        let N = batch * sequence, C = config.channels
        ln1 = FloatBuffer(count: N * C); ln1Mean = FloatBuffer(count: N); ln1Rstd = FloatBuffer(count: N)
        qkv = FloatBuffer(count: N * 3 * C)
        attentionOut = FloatBuffer(count: N * C)
        residual2 = FloatBuffer(count: N * C)
        ln2 = FloatBuffer(count: N * C); ln2Mean = FloatBuffer(count: N); ln2Rstd = FloatBuffer(count: N)
        feedForward = FloatBuffer(count: N * config.innerChannels)
        residual3 = FloatBuffer(count: N * C)
    }
}

final class GPT2Activations {
    let batch: Int, sequence: Int
    var tokens: [Int32] = []
    var targets: [Int32]?
    var countedTargets = 0
    /// Set by forward with targets, cleared by backward (which consumes the logits).
    var readyForBackward = false

    let embedded: FloatBuffer
    let layers: [GPT2LayerActivations]
    let lnf: FloatBuffer, lnfMean: FloatBuffer, lnfRstd: FloatBuffer
    /// [N, vocab], allocated by the first `forward` (a fused `forwardBackward` does without).
    var logits: FloatBuffer?
    /// Rows of logits at a time for `forwardBackward`.
    var headChunk = FloatBuffer(count: 0)

    // Scratch: GELU output (forward and recomputed in backward) and backward's gradients.
    let geluOut: FloatBuffer
    let dResidual: FloatBuffer, dChannels: FloatBuffer, dQKV: FloatBuffer, dInner: FloatBuffer
    var adapterScratch = FloatBuffer(count: 0)

    init(config: GPT2Config, batch: Int, sequence: Int) {
        self.batch = batch
        self.sequence = sequence
        let N = batch * sequence, C = config.channels
        embedded = FloatBuffer(count: N * C)
        layers = (0..<config.layers).map { _ in GPT2LayerActivations(config: config, batch: batch, sequence: sequence) }
        lnf = FloatBuffer(count: N * C); lnfMean = FloatBuffer(count: N); lnfRstd = FloatBuffer(count: N)
        geluOut = FloatBuffer(count: N * config.innerChannels)
        dResidual = FloatBuffer(count: N * C)
        dChannels = FloatBuffer(count: N * C)
        dQKV = FloatBuffer(count: N * 3 * C)
        dInner = FloatBuffer(count: N * config.innerChannels)
    }

    /// Makes sure every adapted projection has its N x rank buffer (adapters can be attached
    /// or replaced between steps).
    func prepareAdapters(_ blocks: [GPT2Block]) {
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
