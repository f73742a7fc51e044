// Finite-difference checking for the layers' backward functions.
//
// Each check reduces a layer's output to a scalar L = Σ w·y with fixed random weights w (so
// dL/dy = w is what backward receives), then compares backward's gradient with central
// differences (L(x + h) - L(x - h)) / 2h taken in float32 with L summed in Double.
// The error measure is max |analytic - numeric| / max |numeric| over the whole tensor: with
// h = 1e-2 on O(1) inputs, float32 rounding contributes ~1e-5 and truncation ~h² = 1e-4, so
// the tolerance used in the tests (2e-3) fails on any real mistake (those are O(1)).

import Compute
import Models

enum GradientCheck {
    static let epsilon: Float = 1e-2
    static let tolerance = 2e-3

    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> FloatBuffer {
        var generator = SeededGenerator(seed: seed)
        let buffer = FloatBuffer(count: count)
        for i in 0..<count { buffer[i] = scale * generator.normal() }
        return buffer
    }

    /// Σ w_i y_i in Double.
    static func dot(_ w: FloatBuffer, _ y: FloatBuffer) -> Double {
        var total: Double = 0
        for i in 0..<w.count { total += Double(w[i]) * Double(y[i]) }
        return total
    }

    /// Central differences of `objective` with respect to every entry of `x`.
    static func numeric(_ x: FloatBuffer, epsilon: Float = epsilon, _ objective: () -> Double) -> [Double] {
        (0..<x.count).map { i in
            let saved = x[i]
            x[i] = saved + epsilon
            let plus = objective()
            x[i] = saved - epsilon
            let minus = objective()
            x[i] = saved
            return (plus - minus) / (2 * Double(epsilon))
        }
    }

    /// max |analytic - numeric| / max |numeric|.
    static func error(_ analytic: FloatBuffer, _ numeric: [Double]) -> Double {
        precondition(analytic.count == numeric.count)
        var difference = 0.0, size = 1e-12
        for i in 0..<numeric.count {
            difference = max(difference, abs(Double(analytic[i]) - numeric[i]))
            size = max(size, abs(numeric[i]))
        }
        return difference / size
    }
}
