// A small deterministic generator (SplitMix64) for initialisation: same seed, same model on
// every platform, which Swift's SystemRandomNumberGenerator cannot promise.

public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    private var spareNormal: Float?

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        let unit = Float(next() >> 40) * (1 / Float(1 << 24))
        return low + (high - low) * unit
    }

    /// Standard normal (Box-Muller; the second value is kept for the next call).
    public mutating func normal() -> Float {
        if let spare = spareNormal { spareNormal = nil; return spare }
        var u1: Double
        repeat { u1 = Double(next() >> 11) * (1.0 / 9007199254740992.0) } while u1 == 0
        let u2 = Double(next() >> 11) * (1.0 / 9007199254740992.0)
        let radius = (-2 * _log(u1)).squareRoot()
        spareNormal = Float(radius * _sin(2 * Double.pi * u2))
        return Float(radius * _cos(2 * Double.pi * u2))
    }
}

#if canImport(Glibc)
import Glibc
private func _log(_ x: Double) -> Double { Glibc.log(x) }
private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
private func _log(_ x: Double) -> Double { Foundation.log(x) }
private func _sin(_ x: Double) -> Double { Foundation.sin(x) }
private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
