// The buffers one LLaMA forward pass fills inside its blocks and backward reads (the ones
// around the blocks are DecoderActivations'), allocated for a (batch, sequence) and reused.
//
// Kept per layer: both RMSNorm outputs and their 1/rms, q and k after rotary embedding, v,
// the attention output (not the probabilities: backward recomputes them), the residual after
// attention, and the MLP's gate and up outputs. silu(gate) · up is not kept: backward
// recomputes it (one cheap elementwise pass instead of N · intermediate floats per layer).
// With Qwen3's q_norm / k_norm, q and k before their norm and the norms' 1/rms are kept too.
// Phi-3's fused projections write into one shared [N, qkv or gate_up width] buffer that is
// split into query/key/value (gate/up) at once; backward joins the gradients in it again.
// With Gemma's sandwich norms, the o_proj and down_proj outputs before their norms and those
// norms' 1/rms are kept too. Backward's gradient buffers are shared by all layers.

final class LlamaLayerActivations {
    let norm1: FloatBuffer, rstd1: FloatBuffer
    let query: FloatBuffer, key: FloatBuffer, value: FloatBuffer
    let attentionOut: FloatBuffer
    let residual2: FloatBuffer
    let norm2: FloatBuffer, rstd2: FloatBuffer
    let gate: FloatBuffer, up: FloatBuffer
    let residual3: FloatBuffer
    /// q_proj and k_proj outputs before q_norm / k_norm and the norms' 1/rms per (row, head)
    /// (Qwen3; empty otherwise).
    let queryRaw: FloatBuffer, keyRaw: FloatBuffer, queryRstd: FloatBuffer, keyRstd: FloatBuffer
    /// o_proj's and down_proj's outputs before post_attention_layernorm and
    /// post_feedforward_layernorm, and those norms' 1/rms (Gemma; empty otherwise).
    let attentionBranch: FloatBuffer, attentionBranchRstd: FloatBuffer, mlpBranch: FloatBuffer, mlpBranchRstd: FloatBuffer

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
        let normed = config.layout.queryKeyNorm
        queryRaw = FloatBuffer(count: normed ? N * config.queryWidth : 0)
        keyRaw = FloatBuffer(count: normed ? N * config.keyValueWidth : 0)
        queryRstd = FloatBuffer(count: normed ? N * config.heads : 0)
        keyRstd = FloatBuffer(count: normed ? N * config.keyValueHeads : 0)
        let sandwich = config.layout.sandwichNorms
        attentionBranch = FloatBuffer(count: sandwich ? N * C : 0); attentionBranchRstd = FloatBuffer(count: sandwich ? N : 0)
        mlpBranch = FloatBuffer(count: sandwich ? N * C : 0); mlpBranchRstd = FloatBuffer(count: sandwich ? N : 0)
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
    /// d(q, k before q_norm / k_norm) (Qwen3; empty otherwise).
    let dQueryRaw: FloatBuffer, dKeyRaw: FloatBuffer
    /// d(o_proj or down_proj output) through its sandwich norm [N, C] (Gemma; empty otherwise).
    let dBranch: FloatBuffer
    /// A fused projection's output or output gradient [N, max(qkv, gate_up width)] (Phi-3; empty otherwise).
    let fused: FloatBuffer

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
        let normed = config.layout.queryKeyNorm
        dQueryRaw = FloatBuffer(count: normed ? N * config.queryWidth : 0)
        dKeyRaw = FloatBuffer(count: normed ? N * config.keyValueWidth : 0)
        dBranch = FloatBuffer(count: config.layout.sandwichNorms ? N * C : 0)
        fused = FloatBuffer(count: config.layout.fusedProjections ? N * max(config.queryWidth + 2 * config.keyValueWidth, 2 * I) : 0)
        super.init(batch: batch, sequence: sequence, channels: C, projectionsPerLayer: config.layout.projectionNames.count)
    }
}
