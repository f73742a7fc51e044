// The buffers one GPT-2 forward pass fills inside its blocks and backward reads (the ones
// around the blocks are DecoderActivations'), allocated for a (batch, sequence) and reused.
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

    init(config: GPT2Config, rows N: Int) {
        let C = config.channels
        ln1 = FloatBuffer(count: N * C); ln1Mean = FloatBuffer(count: N); ln1Rstd = FloatBuffer(count: N)
        qkv = FloatBuffer(count: N * 3 * C)
        attentionOut = FloatBuffer(count: N * C)
        residual2 = FloatBuffer(count: N * C)
        ln2 = FloatBuffer(count: N * C); ln2Mean = FloatBuffer(count: N); ln2Rstd = FloatBuffer(count: N)
        feedForward = FloatBuffer(count: N * config.innerChannels)
        residual3 = FloatBuffer(count: N * C)
    }
}

public final class GPT2Activations: DecoderActivations {
    let layers: [GPT2LayerActivations]
    /// ln_f's statistics (its output is finalHidden).
    let lnfMean: FloatBuffer, lnfRstd: FloatBuffer

    // Scratch: GELU output (forward and recomputed in backward) and backward's gradients.
    let geluOut: FloatBuffer
    let dQKV: FloatBuffer, dInner: FloatBuffer

    init(config: GPT2Config, batch: Int, sequence: Int) {
        let N = batch * sequence, C = config.channels
        layers = (0..<config.layers).map { _ in GPT2LayerActivations(config: config, rows: N) }
        lnfMean = FloatBuffer(count: N); lnfRstd = FloatBuffer(count: N)
        geluOut = FloatBuffer(count: N * config.innerChannels)
        dQKV = FloatBuffer(count: N * 3 * C)
        dInner = FloatBuffer(count: N * config.innerChannels)
        super.init(batch: batch, sequence: sequence, channels: C, projectionsPerLayer: 4)
    }
}
