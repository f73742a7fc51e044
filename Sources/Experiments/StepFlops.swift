// The matrix-product FLOPs of one LoRA / LoFT fine-tuning step of a language model whose base
// is frozen, and the sgemm rate they are measured against (model FLOPs utilisation in
// scripts/bench-llama.sh). Counted, per step of N = batch x sequence rows:
//   frozen projection (in x out):  forward 2·N·in·out, input gradient 2·N·in·out (no weight gradient)
//   its LoRA factors (rank r):     forward 2·N·r·(in + out), backward 4·N·r·(in + out)
//   frozen output head (V x C):    forward 2·N·C·V, input gradient 2·N·C·V
//   causal attention per layer:    q·kᵀ and p·v over the T·(T+1)/2 visible pairs, 2 products
//                                  forward, 4 backward: 6 · 2 · batch · T(T+1)/2 · width
// What a step recomputes (attention probabilities, silu(gate)·up) is not counted: these are
// the model's FLOPs, not the implementation's.

import Compute
import Foundation
import Models

public enum StepFlops {
    public static func loraStep(projections: [(inFeatures: Int, outFeatures: Int)], rank: Int, rows: Int, hidden: Int,
                                vocabulary: Int, attentionWidth: Int, layers: Int, batch: Int, sequence: Int) -> Double {
        let n = Double(rows), r = Double(rank)
        var flops = 0.0
        for (inFeatures, outFeatures) in projections {
            flops += 4 * n * Double(inFeatures) * Double(outFeatures) + 6 * n * r * Double(inFeatures + outFeatures)
        }
        flops += 4 * n * Double(hidden) * Double(vocabulary)
        let pairs = Double(batch) * Double(sequence) * Double(sequence + 1) / 2
        flops += Double(layers) * 6 * 2 * pairs * Double(attentionWidth)
        return flops
    }
}

public enum SgemmPeak {
    /// GFLOP/s of sgemm on 1024 x 1024 x 1024 float32 products with both cores, the best of
    /// five (the machine's peak for the products a step runs, at this moment).
    public static func gigaflops(size: Int = 1024, repeats: Int = 5) -> Double {
        let a = FloatBuffer(count: size * size), b = FloatBuffer(count: size * size), c = FloatBuffer(count: size * size)
        for i in 0..<(size * size) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var best = 0.0
        for _ in 0..<repeats {
            let start = Date()
            gemm(transposeA: false, transposeB: false, m: size, n: size, k: size, a.pointer, lda: size, b.pointer, ldb: size,
                 beta: 0, c.pointer, ldc: size)
            best = max(best, 2 * Double(size * size * size) / Date().timeIntervalSince(start) / 1e9)
        }
        return best
    }
}
