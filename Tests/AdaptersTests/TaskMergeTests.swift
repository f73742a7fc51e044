// The merge rules behind loft combine (TaskTensors), against their definitions: DARE keeps
// each element with probability density and rescales it by 1 / density (checked over many
// seeds: the kept fraction, the rescaling, unbiasedness); magnitude pruning keeps exactly
// int(density * count) largest values; TIES elects signs from the unweighted pruned tensors
// and averages the agreeing weighted values.

import Compute
import Foundation
import Testing
@testable import Adapters

@Suite struct TaskMergeTests {
    @Test func dareKeepsTheDensityFractionAndRescalesByItsInverse() {
        let values = (0..<1000).map { Double($0 % 17) - 8.5 }
        for density in [0.1, 0.5, 0.9] {
            var kept = 0
            var sums = [Double](repeating: 0, count: values.count)
            let seeds = 400
            for seed in 0..<seeds {
                let dropped = TaskTensors.dropAtRandom(values, density: density, seed: UInt64(seed))
                for (i, (x, y)) in zip(dropped, values).enumerated() {
                    if x != 0 {
                        kept += 1
                        #expect(x == y / density)
                    }
                    sums[i] += x
                }
            }
            let fraction = Double(kept) / Double(seeds * values.count)
            // Binomial: standard deviation sqrt(d (1 - d) / n) <= 0.0008 for n = 400 000.
            #expect(abs(fraction - density) < 0.004, "density \(density): kept \(fraction)")
            // E[dropped] = values: the mean over seeds is within a few standard errors.
            for (i, sum) in sums.enumerated() {
                let standardError = abs(values[i]) * ((1 - density) / density / Double(seeds)).squareRoot()
                #expect(abs(sum / Double(seeds) - values[i]) <= 5 * standardError + 1e-12)
            }
        }
    }

    @Test func dareLinearIsUnbiasedForLinearOverSeeds() {
        var generator = SeededGenerator(seed: 3)
        let tensors = (0..<3).map { _ in (0..<200).map { _ in generator.nextNormal() } }
        let weights = [0.5, -0.3, 0.8]
        let linear = TaskTensors.merge(tensors, weights: weights, method: .linear, parameters: TaskMergeParameters(), seeds: [0, 0, 0])
        var mean = [Double](repeating: 0, count: 200)
        let runs = 2000
        for run in 0..<runs {
            let seeds = (0..<3).map { TaskTensors.seed(UInt64(run), module: "m", index: $0, part: 0) }
            let dare = TaskTensors.merge(tensors, weights: weights, method: .dareLinear, parameters: TaskMergeParameters(density: 0.3), seeds: seeds)
            for j in 0..<200 { mean[j] += dare[j] / Double(runs) }
        }
        // Per element variance sum_i w_i² t_i² (1 - d) / d; standard error over 2000 runs.
        for j in 0..<200 {
            let variance = zip(weights, tensors).reduce(0) { $0 + $1.0 * $1.0 * $1.1[j] * $1.1[j] } * 0.7 / 0.3
            #expect(abs(mean[j] - linear[j]) <= 5 * (variance / Double(runs)).squareRoot() + 1e-12)
        }
    }

    @Test func differentSeedsGiveDifferentMasksAndTheSameSeedTheSame() {
        let values = [Double](repeating: 1, count: 64)
        let a = TaskTensors.dropAtRandom(values, density: 0.5, seed: TaskTensors.seed(1, module: "x", index: 0, part: 0))
        let b = TaskTensors.dropAtRandom(values, density: 0.5, seed: TaskTensors.seed(1, module: "x", index: 0, part: 0))
        let c = TaskTensors.dropAtRandom(values, density: 0.5, seed: TaskTensors.seed(2, module: "x", index: 0, part: 0))
        let d = TaskTensors.dropAtRandom(values, density: 0.5, seed: TaskTensors.seed(1, module: "y", index: 0, part: 0))
        #expect(a == b)
        #expect(a != c && a != d)
    }

    @Test func magnitudePruningKeepsTheLargestIntDensityTimesCount() {
        let values: [Double] = [0.1, -5, 3, -0.2, 4, 0, -1, 2]
        #expect(TaskTensors.keepLargest(values, density: 0.5) == [0, -5, 3, 0, 4, 0, 0, 2])
        // int(0.3 * 8) = 2.
        #expect(TaskTensors.keepLargest(values, density: 0.3) == [0, -5, 0, 0, 4, 0, 0, 0])
        #expect(TaskTensors.keepLargest(values, density: 1) == values)
    }

    @Test func tiesElectsTheSignFromUnweightedValuesAndAveragesTheAgreeingOnes() {
        let t1: [Double] = [1, -2, 3, 0]
        let t2: [Double] = [-4, -1, 1, 0]
        let weights = [1.0, 0.5]
        let total = TaskTensors.merge([t1, t2], weights: weights, method: .ties, parameters: TaskMergeParameters(density: 1, signMethod: .total), seeds: [0, 0])
        // Element 0: 1 - 4 < 0 -> only t2 agrees: 0.5 * -4 / 1. Element 1: both negative: (-2 - 0.5) / 2.
        // Element 2: both positive: (3 + 0.5) / 2. Element 3: nobody: 0.
        #expect(total == [-2, -1.25, 1.75, 0])
        let frequency = TaskTensors.merge([t1, t2], weights: weights, method: .ties, parameters: TaskMergeParameters(density: 1, signMethod: .frequency), seeds: [0, 0])
        // Element 0: one + and one - vote: a tie goes to +, so t1 alone: 1.
        #expect(frequency == [1, -1.25, 1.75, 0])
    }
}
