// Gemma's gated MLP activation: h = gelu_tanh(gate) · up, with transformers'
// gelu_pytorch_tanh, gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g³))), applied to
// the outputs of gate_proj and up_proj before down_proj (SwiGLU's place in LLaMA).
//
// GatedActivation picks one of the two from config.json's hidden_act / hidden_activation.

import Compute
import TensorIO

public enum GeGLU {
    private static let scale = Float((2 / Double.pi).squareRoot())
    private static let cubic: Float = 0.044715

    /// h = gelu_tanh(gate) · up, elementwise over `count` values.
    public static func forward(output h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        Parallel.forEachRange(count: count, minimumChunk: 1 << 14) { range in
            forEachVector(range) { i, lanes in
                let g = loadPartial(gate + i, lanes)
                let inner: Float8 = scale * (g + cubic * g * g * g)
                let gelu: Float8 = 0.5 * g * (1 + tanh8(inner))
                storePartial(gelu * loadPartial(up + i, lanes), h + i, lanes)
            }
        }
    }

    /// dup = dh · gelu_tanh(g);  dgate = dh · up · gelu_tanh'(g). Both overwritten; dgate may
    /// alias dh (each element is read before it is written).
    public static func backward(
        gateGradient dgate: UnsafeMutablePointer<Float>, upGradient dup: UnsafeMutablePointer<Float>,
        outputGradient dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
    ) {
        Parallel.forEachRange(count: count, minimumChunk: 1 << 14) { range in
            forEachVector(range) { i, lanes in
                let g = loadPartial(gate + i, lanes), d = loadPartial(dh + i, lanes)
                let inner: Float8 = scale * (g + cubic * g * g * g)
                let t = tanh8(inner)
                let slope: Float8 = scale * (1 + 3 * cubic * g * g)
                let derivative: Float8 = 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * slope
                let gelu: Float8 = 0.5 * g * (1 + t)
                storePartial(d * gelu, dup + i, lanes)
                storePartial(d * loadPartial(up + i, lanes) * derivative, dgate + i, lanes)
            }
        }
    }
}

/// The gate's nonlinearity of a LLaMA-layout MLP: silu (SwiGLU) or gelu_pytorch_tanh (GeGLU).
public enum GatedActivation: String, Equatable, Sendable {
    case silu
    case geluTanh = "gelu_pytorch_tanh"

    /// transformers' hidden_act / hidden_activation names; nil for one loft does not implement
    /// ("gelu" is the exact erf form in transformers, which no supported family uses).
    public init?(huggingFaceName name: String) {
        switch name {
        case "silu", "swish": self = .silu
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": self = .geluTanh
        default: return nil
        }
    }

    func forward(output h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        switch self {
        case .silu: SwiGLU.forward(output: h, gate: gate, up: up, count: count)
        case .geluTanh: GeGLU.forward(output: h, gate: gate, up: up, count: count)
        }
    }

    func backward(gateGradient dgate: UnsafeMutablePointer<Float>, upGradient dup: UnsafeMutablePointer<Float>,
                  outputGradient dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        switch self {
        case .silu: SwiGLU.backward(gateGradient: dgate, upGradient: dup, outputGradient: dh, gate: gate, up: up, count: count)
        case .geluTanh: GeGLU.backward(gateGradient: dgate, upGradient: dup, outputGradient: dh, gate: gate, up: up, count: count)
        }
    }
}
