// Rotary position embeddings as transformers' LlamaRotaryEmbedding applies them: for head
// width d and i < d/2, the pair (x[i], x[i + d/2]) at position t is rotated by the angle
// t · inv_freq[i] ("rotate_half" layout, not interleaved pairs):
//   y[i] = x[i] cos - x[i + d/2] sin,   y[i + d/2] = x[i + d/2] cos + x[i] sin.
// Backward is the rotation by -angle (a rotation's transpose is its inverse).
//
// The frequencies and angles are computed in float32 in the same order as transformers does
// (inv_freq = 1 / theta^(2i/d); angle = float(t) · inv_freq), so the tables match its own.

import Compute
import Foundation
import TensorIO

public final class RotaryEmbedding {
    public let headDimension: Int
    public let inverseFrequencies: [Float]
    /// The longest sequence accepted (max_position_embeddings).
    public let positions: Int
    /// cos and sin of t · inv_freq[i], [tabulated, d/2], grown to the longest sequence seen:
    /// a Llama 3.x config allows 131072 positions, 33 MB of tables no step of 256 needs.
    private var cosines: [Float] = [], sines: [Float] = []
    private var tabulated = 0

    public init(headDimension: Int, scaling: RopeScaling, positions: Int) {
        self.headDimension = headDimension
        self.positions = positions
        inverseFrequencies = RotaryEmbedding.inverseFrequencies(headDimension: headDimension, scaling: scaling)
    }

    private func tabulate(upTo sequence: Int) {
        guard sequence > tabulated else { return }
        let half = headDimension / 2
        for t in tabulated..<sequence {
            for i in 0..<half {
                let angle = Double(Float(t) * inverseFrequencies[i])
                cosines.append(Float(Foundation.cos(angle)))
                sines.append(Float(Foundation.sin(angle)))
            }
        }
        tabulated = sequence
    }

    /// inv_freq for `headDimension`, with the linear or llama3 adjustment when asked
    /// (transformers' `_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
    /// `_compute_llama3_parameters`).
    public static func inverseFrequencies(headDimension d: Int, scaling: RopeScaling) -> [Float] {
        let inverse = defaultInverseFrequencies(headDimension: d, theta: scaling.theta)
        switch scaling {
        case .default:
            return inverse
        case let .linear(_, factor):
            return inverse.map { $0 / Float(factor) }
        case let .llama3(_, factor64, low64, high64, original):
            let factor = Float(factor64), lowFactor = Float(low64), highFactor = Float(high64), oldContext = Float(original)
            let lowFrequencyWavelength = oldContext / lowFactor
            let highFrequencyWavelength = oldContext / highFactor
            return inverse.map { frequency in
                let wavelength = Float(2 * Double.pi) / frequency
                // Long wavelengths (low frequencies) are slowed by `factor`, short ones kept, the
                // band between interpolated smoothly.
                if wavelength < highFrequencyWavelength { return frequency }
                if wavelength > lowFrequencyWavelength { return frequency / factor }
                let smooth = (oldContext / wavelength - lowFactor) / (highFactor - lowFactor)
                return (1 - smooth) * frequency / factor + smooth * frequency
            }
        }
    }

    /// 1 / theta^(2i/d) in float32, as transformers and llama.cpp's converter compute it.
    static func defaultInverseFrequencies(headDimension d: Int, theta: Double) -> [Float] {
        let base = Float(theta)
        return stride(from: 0, to: d, by: 2).map { i -> Float in 1 / Foundation.powf(base, Float(i) / Float(d)) }
    }

    /// The llama3 curve as one divisor per frequency (1 for short wavelengths, `factor` for
    /// long ones, interpolated between): the `rope_freqs.weight` llama.cpp's converter writes
    /// for a llama3 config (llama.cpp divides each frequency by it), computed in float32 in
    /// the converter's order so GGUF export writes the same bits. All 1 for other scalings.
    public static func llama3Factors(headDimension d: Int, scaling: RopeScaling) -> [Float] {
        let inverse = defaultInverseFrequencies(headDimension: d, theta: scaling.theta)
        guard case let .llama3(_, factor64, low64, high64, original) = scaling else { return inverse.map { _ in 1 } }
        let factor = Float(factor64), lowFactor = Float(low64), oldContext = Float(original)
        let lowFrequencyWavelength = Float(Double(original) / low64), highFrequencyWavelength = Float(Double(original) / high64)
        return inverse.map { frequency in
            let wavelength = Float(2 * Double.pi) / frequency
            if wavelength < highFrequencyWavelength { return 1 }
            if wavelength > lowFrequencyWavelength { return factor }
            let smooth = (oldContext / wavelength - lowFactor) / Float(high64 - low64)
            return 1 / ((1 - smooth) / factor + smooth)
        }
    }

    /// Rotates, in place, every head of x [batch, sequence, heads · d] at its position.
    public func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, sequence: Int, heads: Int) {
        apply(x, batch: batch, sequence: sequence, heads: heads, sineSign: 1)
    }

    /// Rotates, in place, `rows` rows of heads at positions firstPosition, firstPosition + 1, ...
    /// (the new tokens of a key/value cache).
    public func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, firstPosition: Int) {
        apply(x, batch: 1, sequence: rows, heads: heads, sineSign: 1, firstPosition: firstPosition)
    }

    /// dx from dy in place: the rotation by -angle.
    public func backward(_ dx: UnsafeMutablePointer<Float>, batch: Int, sequence: Int, heads: Int) {
        apply(dx, batch: batch, sequence: sequence, heads: heads, sineSign: -1)
    }

    private func apply(_ x: UnsafeMutablePointer<Float>, batch: Int, sequence: Int, heads: Int, sineSign: Float, firstPosition: Int = 0) {
        precondition(firstPosition + sequence <= positions, "RotaryEmbedding: sequence \(firstPosition + sequence) beyond \(positions) positions")
        tabulate(upTo: firstPosition + sequence)
        let d = headDimension, half = d / 2, width = heads * d
        cosines.withUnsafeBufferPointer { cosBuffer in
            sines.withUnsafeBufferPointer { sinBuffer in
                let cosTable = cosBuffer.baseAddress!, sinTable = sinBuffer.baseAddress!
                Parallel.forEachRange(count: batch * sequence, minimumChunk: max(1, 8192 / max(width, 1))) { range in
                    for row in range {
                        let t = firstPosition + row % sequence
                        let c = cosTable + t * half, s = sinTable + t * half
                        for h in 0..<heads {
                            let first = x + row * width + h * d, second = first + half
                            forEachVector(0..<half) { i, lanes in
                                let a = loadPartial(first + i, lanes), b = loadPartial(second + i, lanes)
                                let cv = loadPartial(c + i, lanes), sv = loadPartial(s + i, lanes) * sineSign
                                storePartial(a * cv - b * sv, first + i, lanes)
                                storePartial(b * cv + a * sv, second + i, lanes)
                            }
                        }
                    }
                }
            }
        }
    }
}
