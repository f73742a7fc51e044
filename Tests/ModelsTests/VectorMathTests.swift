// The vectorised exp and tanh against the C library, over the ranges the layers use.

import Foundation
import Testing
@testable import Models

@Test func vectorExpIsWithinFourUlpOfTheLibrary() {
    var worst: Float = 0
    var x: Float = -87
    while x < 87.2 {
        let lanes = Float8(x, x + 0.001, x + 0.01, x + 0.1, x + 0.123, x + 0.37, x + 0.5, x + 0.77)
        let result = exp8(lanes)
        for lane in 0..<8 {
            let expected = Double(lanes[lane]).exp
            worst = max(worst, Float(abs(Double(result[lane]) - expected) / expected) / Float.ulpOfOne)
        }
        x += 0.9
    }
    #expect(worst < 4, "worst relative error \(worst) ulp")
    #expect(exp8(Float8(repeating: -1000))[0] < 1e-37, "far below the range is (almost) zero, not NaN")
}

@Test func vectorTanhIsWithinTwoTenMillionthsOfTheLibrary() {
    var worst = 0.0
    var x: Float = -12
    while x < 12 {
        let lanes = Float8(x, x + 0.0001, -x, x * 0.01, x * 0.001, x + 0.3, x + 0.6, x + 0.9)
        let result = tanh8(lanes)
        for lane in 0..<8 { worst = max(worst, abs(Double(result[lane]) - tanh(Double(lanes[lane])))) }
        x += 0.05
    }
    #expect(worst < 2e-7, "worst absolute error \(worst)")
}

private extension Double { var exp: Double { Foundation.exp(self) } }
