// The one seeded generator of loft, so every random thing is reproducible on every machine
// (Swift's SystemRandomNumberGenerator cannot be seeded): model and adapter initialisation,
// the batches of each training step, sampling in `loft generate`, the experiments and tests.

/// xoshiro256** seeded through SplitMix64.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box-Muller).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUnit()
        let u2 = nextUnit()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// Standard normal in float32 (weights).
    public mutating func normal() -> Float { Float(nextNormal()) }

    /// Uniform in [low, high) (PyTorch's kaiming_uniform / nn.Linear bounds).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(nextUnit())
    }
}

import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }

extension Matrix {
    /// Elements uniform in [-bound, bound) (PyTorch's Linear init uses bound 1/sqrt(fan_in)).
    public static func uniform(rows: Int, columns: Int, bound: Float, using generator: inout SeededGenerator) -> Matrix {
        let matrix = Matrix(rows: rows, columns: columns)
        for k in 0..<matrix.count { matrix.storage[k] = Float((2 * generator.nextUnit() - 1) * Double(bound)) }
        return matrix
    }

    /// Elements standard normal times `scale`.
    public static func normal(rows: Int, columns: Int, scale: Float = 1, using generator: inout SeededGenerator) -> Matrix {
        let matrix = Matrix(rows: rows, columns: columns)
        for k in 0..<matrix.count { matrix.storage[k] = Float(generator.nextNormal()) * scale }
        return matrix
    }
}
