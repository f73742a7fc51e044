// Elementwise activations: GELU (the tanh approximation GPT-2 uses, PyTorch's
// gelu(approximate="tanh") / Hugging Face "gelu_new"), ReLU and tanh.

import Foundation
import TensorIO

public enum Activation: String, Sendable, CaseIterable {
    case gelu, relu, tanh

    /// Accepts the names used by PyTorch and Hugging Face configs.
    public init?(name: String) {
        switch name.lowercased() {
        case "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_tanh": self = .gelu
        case "relu": self = .relu
        case "tanh": self = .tanh
        default: return nil
        }
    }

    private static let geluScale = Float((2 / Double.pi).squareRoot())
    private static let geluCubic: Float = 0.044715

    /// y = f(x), `count` elements.
    public func forward(output y: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, count: Int) {
        let kind = self
        Parallel.forEachRange(count: count, minimumChunk: 1 << 15) { range in
            switch kind {
            case .gelu:
                for i in range {
                    let v = x[i]
                    y[i] = 0.5 * v * (1 + Foundation.tanh(Self.geluScale * (v + Self.geluCubic * v * v * v)))
                }
            case .relu:
                for i in range { y[i] = max(x[i], 0) }
            case .tanh:
                for i in range { y[i] = Foundation.tanh(x[i]) }
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
                for i in range {
                    let v = x[i]
                    let inner = Self.geluScale * (v + Self.geluCubic * v * v * v)
                    let t = Foundation.tanh(inner)
                    let sech2 = 1 - t * t
                    let derivative = 0.5 * (1 + t) + 0.5 * v * sech2 * Self.geluScale * (1 + 3 * Self.geluCubic * v * v)
                    dx[i] = dy[i] * derivative
                }
            case .relu:
                for i in range { dx[i] = x[i] > 0 ? dy[i] : 0 }
            case .tanh:
                for i in range { let t = Foundation.tanh(x[i]); dx[i] = dy[i] * (1 - t * t) }
            }
        }
    }
}
