// LLaMA's gated MLP activation: h = silu(gate) · up, with silu(g) = g · sigmoid(g), applied to
// the outputs of gate_proj and up_proj before down_proj.

import Compute
import TensorIO

public enum SwiGLU {
    /// h = silu(gate) · up, elementwise over `count` values.
    public static func forward(output h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        Parallel.forEachRange(count: count, minimumChunk: 1 << 14) { range in
            forEachVector(range) { i, lanes in
                let g = loadPartial(gate + i, lanes)
                let sigmoid = 1 / (1 + exp8(-g))
                storePartial(g * sigmoid * loadPartial(up + i, lanes), h + i, lanes)
            }
        }
    }

    /// dup = dh · silu(g);  dgate = dh · up · σ(g) (1 + g (1 - σ(g))). Both overwritten; dgate
    /// may alias dh (each element is read before it is written).
    public static func backward(
        gateGradient dgate: UnsafeMutablePointer<Float>, upGradient dup: UnsafeMutablePointer<Float>,
        outputGradient dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
    ) {
        Parallel.forEachRange(count: count, minimumChunk: 1 << 14) { range in
            forEachVector(range) { i, lanes in
                let g = loadPartial(gate + i, lanes), d = loadPartial(dh + i, lanes)
                let sigmoid = 1 / (1 + exp8(-g))
                storePartial(d * g * sigmoid, dup + i, lanes)
                storePartial(d * loadPartial(up + i, lanes) * sigmoid * (1 + g * (1 - sigmoid)), dgate + i, lanes)
            }
        }
    }
}
