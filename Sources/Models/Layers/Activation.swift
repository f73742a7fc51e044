// Elementwise activations: GELU (the tanh approximation GPT-2 uses, PyTorch's
// gelu(approximate="tanh") / Hugging Face "gelu_new"), ReLU and tanh.

import Compute
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
                forEachVector(range) { i, lanes in
                    let v = loadPartial(x + i, lanes)
                    let t = tanh8(Self.geluScale * (v + Self.geluCubic * v * v * v))
                    storePartial(0.5 * v * (1 + t), y + i, lanes)
                }
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
                    let v = loadPartial(x + i, lanes)
                    let t = tanh8(Self.geluScale * (v + Self.geluCubic * v * v * v))
                    let sech2 = 1 - t * t
                    let derivative = 0.5 * (1 + t) + 0.5 * v * sech2 * Self.geluScale * (1 + 3 * Self.geluCubic * v * v)
                    storePartial(loadPartial(dy + i, lanes) * derivative, dx + i, lanes)
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
