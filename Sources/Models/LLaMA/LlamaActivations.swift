// The buffers one LLaMA forward pass fills inside its blocks and backward reads (the ones
// around the blocks are DecoderActivations'), allocated for a (batch, sequence) and reused.
//
// Kept per layer: both RMSNorm outputs and their 1/rms, q and k after rotary embedding, v,
// the attention output (not the probabilities: backward recomputes them), the residual after
// attention, and the MLP's gate and up outputs. silu(gate) · up is not kept: backward
// recomputes it (one cheap elementwise pass instead of N · intermediate floats per layer).
// Backward's gradient buffers are shared by all layers.

final class LlamaLayerActivations {
    let norm1: FloatBuffer, rstd1: FloatBuffer
    let query: FloatBuffer, key: FloatBuffer, value: FloatBuffer
    let attentionOut: FloatBuffer
    let residual2: FloatBuffer
    let norm2: FloatBuffer, rstd2: FloatBuffer
    let gate: FloatBuffer, up: FloatBuffer
    let residual3: FloatBuffer

    init(config: LlamaConfig, rows N: Int) {
        let C = config.hidden
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

public final class LlamaActivations: DecoderActivations {
    let layers: [LlamaLayerActivations]
    /// The final RMSNorm's 1/rms (its output is finalHidden).
    let finalRstd: FloatBuffer

    // Scratch: silu(gate) · up (forward, recomputed in backward) and backward's gradients.
    let gated: FloatBuffer
    let dChannelsPart: FloatBuffer
    let dAttention: FloatBuffer, dQuery: FloatBuffer, dKey: FloatBuffer, dValue: FloatBuffer
    let dGate: FloatBuffer, dUp: FloatBuffer

    init(config: LlamaConfig, batch: Int, sequence: Int) {
        let N = batch * sequence, C = config.hidden, I = config.intermediate
        layers = (0..<config.layers).map { _ in LlamaLayerActivations(config: config, rows: N) }
        finalRstd = FloatBuffer(count: N)
        gated = FloatBuffer(count: N * I)
        dChannelsPart = FloatBuffer(count: N * C)
        dAttention = FloatBuffer(count: N * config.queryWidth)
        dQuery = FloatBuffer(count: N * config.queryWidth)
        dKey = FloatBuffer(count: N * config.keyValueWidth)
        dValue = FloatBuffer(count: N * config.keyValueWidth)
        dGate = FloatBuffer(count: N * I)
        dUp = FloatBuffer(count: N * I)
        super.init(batch: batch, sequence: sequence, channels: C, projectionsPerLayer: 7)
    }
}
