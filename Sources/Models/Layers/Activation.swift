// Elementwise activations: GELU in its two forms, ReLU and tanh.
//
//   gelu       the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): PyTorch's
//              gelu(approximate="tanh"), Hugging Face "gelu_new" / "gelu_pytorch_tanh" /
//              "gelu_fast" (the same formula), what released GPT-2 checkpoints use
//   geluExact  x Φ(x) = 0.5 x (1 + erf(x / sqrt 2)): PyTorch's default gelu, Hugging Face "gelu";
//              d/dx = Φ(x) + x φ(x), φ the standard normal density

import Compute
import Foundation
import TensorIO

public enum Activation: String, Sendable, CaseIterable {
    case gelu, relu, tanh
    case geluExact = "gelu_exact"

    /// The names an MLP config.json (`{"activation": ...}`) uses: "gelu" is the tanh form there.
    public init?(name: String) {
        switch name.lowercased() {
        case "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_tanh": self = .gelu
        case "gelu_exact": self = .geluExact
        case "relu": self = .relu
        case "tanh": self = .tanh
        default: return nil
        }
    }

    /// Hugging Face's `activation_function` / `hidden_act` (transformers' ACT2FN): "gelu" is
    /// the exact, erf form; nil for a name loft does not implement.
    public init?(huggingFaceName name: String) {
        switch name {
        case "gelu": self = .geluExact
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .gelu
        case "relu": self = .relu
        case "tanh": self = .tanh
        default: return nil
        }
    }

    /// The name transformers reads back as this activation.
    public var huggingFaceName: String {
        switch self {
        case .gelu: return "gelu_new"
        case .geluExact: return "gelu"
        case .relu: return "relu"
        case .tanh: return "tanh"
        }
    }

    private static let geluScale = Float((2 / Double.pi).squareRoot())
    private static let geluCubic: Float = 0.044715
    private static let inverseRoot2 = Float(1 / 2.0.squareRoot())
    private static let inverseRoot2Pi = Float(1 / (2 * Double.pi).squareRoot())

    /// tanh(sqrt(2/pi) (v + 0.044715 v^3)), the tanh form's inner term.
    @inline(__always) private static func geluTanh(_ v: Float8) -> Float8 { tanh8(geluScale * (v + geluCubic * v * v * v)) }

    /// y = f(x), `count` elements.
    public func forward(output y: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, count: Int) {
        let kind = self
        Parallel.forEachRange(count: count, minimumChunk: 1 << 15) { range in
            switch kind {
            case .gelu:
                forEachVector(range) { i, lanes in
                    let v = loadPartial(x + i, lanes)
                    storePartial(0.5 * v * (1 + Self.geluTanh(v)), y + i, lanes)
                }
            case .geluExact:
                for i in range { y[i] = 0.5 * x[i] * (1 + erf(x[i] * Self.inverseRoot2)) }
            case .relu:
                for i in range { y[i] = max(x[i], 0) }
            case .tanh:
                forEachVector(range) { i, lanes in storePartial(tanh8(loadPartial(x + i, lanes)), y + i, lanes) }
            }
        }
    }

    /// dx = dy · f'(x), overwritten (dx may be the same buffer as dy).
    public func backward(
        inputGradient dx: UnsafeMutablePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        input x: UnsafePointer<Float>, count: Int
    ) {
        let kind = self
        Parallel.forEachRange(count: count, minimumChunk: 1 << 15) { range in
            switch kind {
            case .gelu:
                forEachVector(range) { i, lanes in
                    let v = loadPartial(x + i, lanes), t = Self.geluTanh(v)
                    let sech2 = 1 - t * t
                    let derivative = 0.5 * (1 + t) + 0.5 * v * sech2 * Self.geluScale * (1 + 3 * Self.geluCubic * v * v)
                    storePartial(loadPartial(dy + i, lanes) * derivative, dx + i, lanes)
                }
            case .geluExact:
                for i in range {
                    let v = x[i]
                    let cdf = 0.5 * (1 + erf(v * Self.inverseRoot2)), density = Self.inverseRoot2Pi * exp(-0.5 * v * v)
                    dx[i] = dy[i] * (cdf + v * density)
                }
            case .relu:
                for i in range { dx[i] = x[i] > 0 ? dy[i] : 0 }
            case .tanh:
                forEachVector(range) { i, lanes in
                    let t = tanh8(loadPartial(x + i, lanes))
                    storePartial(loadPartial(dy + i, lanes) * (1 - t * t), dx + i, lanes)
                }
            }
        }
    }
}
