// Batches: B windows of T + 1 consecutive tokens (targets = inputs shifted by one), a pure
// function of (seed, step).

import Testing
@testable import Training

@Suite struct BatchTests {
    let tokens = (0..<100).map { Int32($0) }

    @Test func windowsAreConsecutiveAndInRange() {
        let sampler = WindowSampler(tokenCount: 100, batch: 5, sequence: 9, seed: 3)
        for step in 0..<20 {
            let (inputs, targets) = sampler.batch(step: step, tokens: tokens)
            #expect(inputs.count == 45 && targets.count == 45)
            for row in 0..<5 {
                let start = Int(inputs[row * 9])
                #expect(start >= 0 && start + 9 < 100)
                #expect(Array(inputs[(row * 9)..<(row * 9 + 9)]) == (start..<(start + 9)).map(Int32.init))
                #expect(Array(targets[(row * 9)..<(row * 9 + 9)]) == ((start + 1)...(start + 9)).map(Int32.init))
            }
        }
    }

    @Test func sameSeedAndStepSameBatch() {
        let a = WindowSampler(tokenCount: 1000, batch: 8, sequence: 16, seed: 42)
        let b = WindowSampler(tokenCount: 1000, batch: 8, sequence: 16, seed: 42)
        let c = WindowSampler(tokenCount: 1000, batch: 8, sequence: 16, seed: 43)
        #expect(a.offsets(step: 17) == b.offsets(step: 17))
        #expect(a.offsets(step: 17) != a.offsets(step: 18))
        #expect(a.offsets(step: 17) != c.offsets(step: 17))
    }

    @Test func everyStartIsReachable() {
        // 3 possible starts (n - T = 3): all must appear.
        let sampler = WindowSampler(tokenCount: 10, batch: 4, sequence: 7, seed: 0)
        let starts = Set((0..<20).flatMap { sampler.offsets(step: $0) })
        #expect(starts == [0, 1, 2])
    }
}
