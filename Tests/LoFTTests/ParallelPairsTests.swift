// A step with many LoFT pairs runs them on all cores at once (LoFTWorkers.swift), each with
// single-threaded BLAS and small tiles; a step with one pair runs it alone with all cores
// inside it. Both must give the same numbers: a pair's step does not depend on what else
// was registered (without clipping, which couples the pairs through the global norm).

import Compute
import Testing
@testable import LoFT

@Suite struct ParallelPairsTests {
    /// Shapes (m, n) of the pairs; the last ones are larger than a worker's 2^16-float tile,
    /// so they are computed in several tiles when the pairs run in parallel.
    static let shapes = [(48, 40), (20, 64), (96, 32), (33, 17), (64, 64), (16, 80), (300, 260), (260, 300)]

    static func makePairs(seed: UInt64, rank: Int) -> [(LowRankPair, QuadraticProblem)] {
        var random = SeededGenerator(seed: seed)
        return shapes.map { m, n in
            let a = Matrix(rows: rank, columns: n) { _, _ in random.normal() / Float(n).squareRoot() }
            let b = Matrix(rows: m, columns: rank) { _, _ in 0.1 * random.normal() }
            let target = Matrix(rows: m, columns: n) { _, _ in random.normal() }
            return (LowRankPair(a: a, b: b), QuadraticProblem(target: target))
        }
    }

    static func run(_ optimizers: [Optimizer], _ pairs: [(LowRankPair, QuadraticProblem)], steps: Int) throws {
        for _ in 0..<steps {
            var gradients = [[String: Gradient]](repeating: [:], count: optimizers.count)
            for (index, (pair, problem)) in pairs.enumerated() {
                let (gA, gB) = problem.factorGradients(pair)
                gradients[optimizers.count == 1 ? 0 : index]["p\(index)"] = .pair(a: gA, b: gB)
            }
            for (optimizer, g) in zip(optimizers, gradients) { try optimizer.step(gradients: g, learningRate: 0.02) }
        }
    }

    @Test(arguments: [LoFTOptions.full, .noAlternation])
    func manyPairsMatchOnePairAtATime(options: LoFTOptions) throws {
        let together = Self.makePairs(seed: 11, rank: 4)
        let alone = Self.makePairs(seed: 11, rank: 4)
        let shared = Optimizer(method: .loft(options), hyperparameters: .loftDefaults)
        for (index, (pair, _)) in together.enumerated() { try shared.register(pair: "p\(index)", pair) }
        var separate: [Optimizer] = []
        for (index, (pair, _)) in alone.enumerated() {
            let optimizer = Optimizer(method: .loft(options), hyperparameters: .loftDefaults)
            try optimizer.register(pair: "p\(index)", pair)
            separate.append(optimizer)
        }
        try Self.run([shared], together, steps: 12)
        try Self.run(separate, alone, steps: 12)
        for (index, ((x, _), (y, _))) in zip(together, alone).enumerated() {
            #expect(x.a.isFinite && x.b.isFinite, "pair \(index)")
            // Same products, same order of every sum: the same bits.
            #expect(x.a.maxAbsoluteDifference(y.a) == 0, "pair \(index) A: \(x.a.maxAbsoluteDifference(y.a))")
            #expect(x.b.maxAbsoluteDifference(y.b) == 0, "pair \(index) B: \(x.b.maxAbsoluteDifference(y.b))")
        }
    }
}
