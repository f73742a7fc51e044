// Data parallelism: N processes (ranks) train one model as one process would. Every rank
// draws the same global batch from (seed, step) and takes its contiguous slice of its rows
// (Shard); its gradient is of the mean loss over its rows, so scaled by rows_r / B the sum
// over the ranks is the gradient of the mean over the whole batch. All trainable gradients,
// and the step's loss, are packed into one buffer and summed in place by one all-reduce;
// every rank then takes the same optimizer step on the same numbers (clipping sees the
// summed gradient), so the weights, adapters and optimizer states stay identical without
// ever being sent. One process (SingleProcess) skips all of this.

import Compute
import Foundation
import LoFT
import Models

final class GradientReduction {
    let communicator: Communicator
    private var buffer: UnsafeMutableBufferPointer<Float>?

    init(communicator: Communicator) { self.communicator = communicator }

    deinit { buffer?.deallocate() }

    /// Replaces every gradient of `model` by the ranks' sum of `weight` x it, and returns the
    /// sum of `weight` x `loss` (the global mean loss). Seconds spent in the all-reduce
    /// (waiting for the slowest rank included) in `seconds`.
    func reduce(model: TrainableModel, weight: Float, loss: Float, seconds: inout Double) throws -> Float {
        // Sorted by name: every rank packs the same tensors in the same order.
        let gradients = model.gradients.sorted { $0.key < $1.key }.flatMap { _, gradient -> [Matrix] in
            switch gradient {
            case let .dense(g): return [g]
            case let .pair(a, b): return [a, b]
            }
        }
        let total = gradients.reduce(1) { $0 + $1.count }
        if buffer?.count != total {
            buffer?.deallocate()
            buffer = .allocate(capacity: total)
        }
        let packed = buffer!
        var offset = 0
        for g in gradients {
            for i in 0..<g.count { packed[offset + i] = g.storage[i] * weight }
            offset += g.count
        }
        packed[offset] = loss * weight
        let started = DispatchTime.now().uptimeNanoseconds
        try communicator.allReduceSum(packed)
        seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        offset = 0
        for g in gradients {
            _ = g.storage.update(fromContentsOf: packed[offset..<(offset + g.count)])
            offset += g.count
        }
        return packed[offset]
    }
}

/// A test hook for the failure case: LOFT_TEST_KILL_RANK_AT_STEP=R:S makes rank R kill itself
/// (SIGKILL, as an out-of-memory kill or a lost machine would) when it starts step S + 1.
struct FaultInjection {
    let rank: Int
    let step: Int

    static func fromEnvironment() -> FaultInjection? {
        guard let text = ProcessInfo.processInfo.environment["LOFT_TEST_KILL_RANK_AT_STEP"] else { return nil }
        let parts = text.split(separator: ":").compactMap { Int($0) }
        return parts.count == 2 ? FaultInjection(rank: parts[0], step: parts[1]) : nil
    }

    func check(rank: Int, step: Int) {
        if rank == self.rank && step == self.step { kill(getpid(), SIGKILL) }
    }
}
