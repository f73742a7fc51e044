// Which examples each step trains on, as a pure function of (seed, step): a resumed run
// draws exactly the batches the uninterrupted run would have drawn, with no generator
// state to save.
//
// Language modelling: a batch is B windows of T+1 consecutive tokens, each starting at an
// offset drawn uniformly from 0...(n - T - 1); inputs are the first T tokens, targets the
// last T. MLP: a batch is B rows drawn uniformly (with replacement) from the data.

import Compute
import Models

public struct WindowSampler: Sendable {
    public let tokenCount: Int
    public let batch: Int
    public let sequence: Int
    public let seed: UInt64

    public init(tokenCount: Int, batch: Int, sequence: Int, seed: UInt64) {
        precondition(tokenCount >= sequence + 1 && batch > 0 && sequence > 0)
        self.tokenCount = tokenCount
        self.batch = batch
        self.sequence = sequence
        self.seed = seed
    }

    /// The start offsets of step `step`'s windows.
    public func offsets(step: Int) -> [Int] {
        var random = stepRandom(seed: seed, step: step)
        let choices = UInt64(tokenCount - sequence)
        return (0..<batch).map { _ in Int(random.next() % choices) }
    }

    /// Inputs and targets [rows, sequence], row-major: rows `rows` (default all) of the
    /// step's batch. A data-parallel rank takes its slice of the one global batch.
    public func batch(step: Int, tokens: [Int32], rows: Range<Int>? = nil) -> (inputs: [Int32], targets: [Int32]) {
        let rows = rows ?? 0..<batch
        var inputs: [Int32] = [], targets: [Int32] = []
        inputs.reserveCapacity(rows.count * sequence)
        targets.reserveCapacity(rows.count * sequence)
        for start in offsets(step: step)[rows] {
            inputs.append(contentsOf: tokens[start..<(start + sequence)])
            targets.append(contentsOf: tokens[(start + 1)...(start + sequence)])
        }
        return (inputs, targets)
    }
}

public struct RowSampler: Sendable {
    public let rowCount: Int
    public let batch: Int
    public let seed: UInt64

    public init(rowCount: Int, batch: Int, seed: UInt64) {
        precondition(rowCount > 0 && batch > 0)
        self.rowCount = rowCount
        self.batch = batch
        self.seed = seed
    }

    public func rows(step: Int) -> [Int] {
        var random = stepRandom(seed: seed, step: step)
        return (0..<batch).map { _ in Int(random.next() % UInt64(rowCount)) }
    }
}

/// An independent stream per step: the seeded generator seeded by a mix of seed and step (the
/// modulo bias of `% n` is below 2^-40 for any data that fits in memory).
func stepRandom(seed: UInt64, step: Int) -> SeededGenerator {
    var mixer = SeededGenerator(seed: seed ^ 0x5851_F42D_4C95_7F2D)
    let salt = mixer.next()
    return SeededGenerator(seed: salt &+ UInt64(step) &* 0xD1B5_4A32_D192_ED03)
}
