// Rope scaling in llama.cpp's GGUF spelling, both ways.
//
//   - linear: `ARCH.rope.scaling.type = "linear"` and `ARCH.rope.scaling.factor` (llama.cpp
//     multiplies positions by 1 / factor, as transformers divides inv_freq by it). Gemma 3's
//     4B/12B/27B use it on their global layers; llama.cpp's gemma3 keeps its sliding layers
//     unscaled, as transformers does.
//   - llama3 (Llama 3.1, 3.2): no metadata; llama.cpp's converter writes a tensor
//     `rope_freqs.weight`, one float32 divisor per rotary frequency (head_dim / 2 of them),
//     and llama.cpp divides each frequency by its divisor. Export writes the converter's values
//     (RotaryEmbedding.llama3Factors, the same float32 arithmetic). Import recovers the llama3
//     parameters transformers needs from the divisors (below) and checks that recomputing the
//     curve from them gives the file's tensor; a tensor that is not a llama3 curve is refused,
//     since no transformers config could carry arbitrary per-frequency divisors.

import Foundation
import TensorIO

extension GGUFArchitecture {
    /// llama.cpp's name of the llama3 divisor tensor.
    static let ropeFrequenciesTensor = "rope_freqs.weight"

    /// The `ARCH.rope.scaling.*` keys for `rope` (none for default and llama3 rope).
    func ropeScalingKeys(_ rope: RopeScaling, path: String) throws -> [(key: String, value: GGUFValue)] {
        switch rope {
        case .default:
            return []
        case let .linear(_, factor):
            return [("\(name).rope.scaling.type", .string("linear")), ("\(name).rope.scaling.factor", .float32(Float(factor)))]
        case .llama3:
            // llama.cpp reads rope_freqs in its llama graph; the other graphs ignore the tensor.
            guard name == "llama" else {
                throw GGUFError(path: path, "llama3 rope scaling cannot be written for \(name): llama.cpp applies its rope_freqs tensor in the llama graph only")
            }
            return []
        }
    }

    /// `rope_freqs.weight` for a llama config with llama3 rope (nil otherwise), as llama.cpp's
    /// converter computes it.
    func ropeFrequencyFactors(config json: JSONValue, path: String) throws -> [Float]? {
        guard name == "llama" else { return nil }
        let config: LlamaConfig
        do { config = try LlamaConfig(json: json, path: path) } catch let error as ModelError { throw GGUFError(path: path, "\(error)") }
        guard case .llama3 = config.rope else { return nil }
        return RotaryEmbedding.llama3Factors(headDimension: config.headDimension, scaling: config.rope)
    }

    /// config.json's rope_scaling (null for none) from the `ARCH.rope.scaling.*` keys and, when
    /// the file has one, the `rope_freqs.weight` divisors.
    func ropeScaling(header: GGUFHeader, factors: [Float]?, theta: Double, headDimension: Int, path: String) throws -> JSONValue {
        let type = header.value("\(name).rope.scaling.type")?.stringValue ?? "none"
        if let factors {
            guard name == "llama" else {
                throw GGUFError(path: path, "\(Self.ropeFrequenciesTensor) in a \(name) file is not supported (llama.cpp applies it in its llama graph)")
            }
            guard type == "none" else {
                throw GGUFError(path: path, "\(Self.ropeFrequenciesTensor) together with \(name).rope.scaling.type \(type) is not supported")
            }
            let original = header.value("\(name).rope.scaling.original_context_length")?.intValue ?? 8192
            let rope = try Llama3RopeRecovery.recover(factors: factors, theta: theta, headDimension: headDimension,
                                                      originalPositions: original, path: path)
            return rope.map(LlamaConfig.scalingJSON) ?? .null
        }
        switch type {
        case "none":
            return .null
        case "linear":
            guard let factor = header.value("\(name).rope.scaling.factor")?.doubleValue, factor.isFinite, factor > 0 else {
                throw GGUFError(path: path, "\(name).rope.scaling.type linear needs a positive \(name).rope.scaling.factor")
            }
            // A factor of 1 is no scaling (llama.cpp's converter never writes it; other tools may).
            return factor == 1 ? .null : LlamaConfig.scalingJSON(.linear(theta: theta, factor: factor))
        default:
            throw GGUFError(path: path, "\(name).rope.scaling.type \(type) is not supported (none, linear, and llama3's rope_freqs tensor are)")
        }
    }

    /// The `rope_freqs.weight` values of a file, checked: head_dim / 2 finite positive floats.
    static func ropeFrequencyFactors(_ gguf: GGUFReader, headDimension: Int) throws -> [Float]? {
        guard let entry = gguf.entry(ropeFrequenciesTensor) else { return nil }
        let expected = headDimension / 2
        guard entry.dims == [expected] else {
            throw GGUFError(path: gguf.path, "\(ropeFrequenciesTensor) has shape \(entry.dims), expected [\(expected)] (head_dim \(headDimension) / 2)")
        }
        let data = try gguf.data(for: ropeFrequenciesTensor)
        let values = try DTypeConversion.convert(data, to: .F32).withElements(as: Float.self) { Array($0) }
        if let index = values.firstIndex(where: { !$0.isFinite || $0 <= 0 }) {
            throw GGUFError(path: gguf.path, "\(ropeFrequenciesTensor) value \(index) is \(values[index]); rope frequency divisors must be finite and positive")
        }
        return values
    }
}

/// The llama3 parameters behind a `rope_freqs.weight` tensor.
///
/// With x = 1 / wavelength of each frequency and r = 1 / divisor, llama3's curve is
/// r = 1 for x > high / original, r = 1 / factor for x < low / original, and linear in x
/// between: r = 1/factor + (1 - 1/factor) s with s = (x·original - low) / (high - low). So
/// `factor` is the largest divisor, and two points strictly inside the band give low and
/// high (only low / original and high / original matter: the original context is taken
/// from the file when it says, else 8192, Llama 3's). With fewer band points the curve
/// does not pin them down; any values that reproduce the divisors are chosen. The result is
/// rounded to the fewest significant digits that still reproduce every divisor to 1e-6
/// (Llama 3.1's file gives factor 8, low 1, high 4 exactly).
enum Llama3RopeRecovery {
    static let tolerance: Float = 1e-6

    static func recover(factors: [Float], theta: Double, headDimension: Int, originalPositions: Int, path: String) throws -> RopeScaling? {
        if factors.allSatisfy({ $0 == 1 }) { return nil }
        func refuse(_ why: String) -> GGUFError {
            GGUFError(path: path, "\(GGUFArchitecture.ropeFrequenciesTensor) is not a llama3 rope scaling curve (\(why)); loft reads only that one")
        }
        guard originalPositions > 0 else { throw refuse("original context length \(originalPositions)") }
        let factor = factors.max()!
        guard factor > 1 else { throw refuse("every divisor is below 1") }
        let inverse = RotaryEmbedding.defaultInverseFrequencies(headDimension: headDimension, theta: theta)
        let x = inverse.map { 1 / Double(Float(2 * Double.pi) / $0) }
        let F = Double(factor)
        var band: [(x: Double, s: Double)] = [], below: [Double] = [], above: [Double] = []
        for (xi, f) in zip(x, factors) {
            if f == 1 { above.append(xi) } else if f == factor { below.append(xi) } else {
                band.append((xi, (1 / Double(f) - 1 / F) / (1 - 1 / F)))
            }
        }
        // u = low / original, v = high / original: points above v keep their frequency,
        // points below u are divided by factor, points between follow s = (x - u) / (v - u).
        let lowest = max(below.max() ?? 0, 0), highest = above.min() ?? .infinity
        var u: Double, v: Double
        if band.count >= 2 {
            let a = band.min { $0.s < $1.s }!, b = band.max { $0.s < $1.s }!
            guard b.s > a.s else { throw refuse("the band between the two plateaus is flat") }
            let width = (b.x - a.x) / (b.s - a.s)
            u = a.x - a.s * width
            v = u + width
        } else if let point = band.first {
            // x = u + s (v - u): pick v halfway between x and the largest value keeping u above `lowest`.
            let limit = min(highest, (point.x - (1 - point.s) * lowest) / point.s)
            v = (point.x + limit) / 2
            u = (point.x - point.s * v) / (1 - point.s)
        } else {
            let top = highest.isFinite ? highest : 2 * lowest
            u = lowest + (top - lowest) / 3
            v = lowest + 2 * (top - lowest) / 3
        }
        let original = Double(originalPositions)
        guard u > 0, v > u, u.isFinite, v.isFinite else { throw refuse("no positive low and high frequency factors fit") }
        for digits in 1...17 {
            let candidate = RopeScaling.llama3(theta: theta, factor: rounded(F, digits), lowFrequencyFactor: rounded(u * original, digits),
                                               highFrequencyFactor: rounded(v * original, digits), originalPositions: originalPositions)
            let again = RotaryEmbedding.llama3Factors(headDimension: headDimension, scaling: candidate)
            if zip(again, factors).allSatisfy({ abs($0 - $1) <= tolerance * $1 }) { return candidate }
        }
        throw refuse("factor \(F), low \(u * original), high \(v * original) do not reproduce it")
    }

    /// `value` to `digits` significant digits.
    static func rounded(_ value: Double, _ digits: Int) -> Double {
        guard value != 0, value.isFinite else { return value }
        let scale = pow(10, Double(digits) - (log10(abs(value))).rounded(.up))
        let result = (value * scale).rounded() / scale
        return result.isFinite ? result : value
    }
}
