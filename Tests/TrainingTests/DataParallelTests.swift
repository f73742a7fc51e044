// Data parallelism without MPI: N ranks as N threads of this process, joined by an in-memory
// all-reduce (ThreadGroup), each running its own FinetuneJob on its own copy of the model.
// Whatever MPI is installed or not, this checks the split of the batch, the scaling of the
// gradients, the one reduction per step, the sharded evaluation and that rank 0 alone writes:
// N ranks give the single-process losses and adapter within the float32 tolerance of
// docs/distributed.md. (Tests/LoftCLITests/DistributedFinetuneTests.swift does the same
// through mpirun.)

import Compute
import Foundation
import Testing
import TensorIO
@testable import Training

/// An in-memory all-reduce among `size` threads: each round, every rank adds its buffer to
/// the sum; the last to arrive publishes it and wakes the others.
final class ThreadGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var sum: [Double] = []
    private var result: [Double] = []
    private var arrived = 0
    private var generation = 0
    private(set) var rounds = 0

    init(size: Int) { self.size = size }

    func reduce(_ values: [Double]) -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        if arrived == 0 { sum = values } else { for i in sum.indices { sum[i] += values[i] } }
        arrived += 1
        let round = generation
        if arrived == size {
            result = sum
            arrived = 0
            generation += 1
            rounds += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        return result
    }
}

final class ThreadRank: Communicator {
    let rank: Int
    let group: ThreadGroup
    init(rank: Int, group: ThreadGroup) {
        self.rank = rank
        self.group = group
    }

    var size: Int { group.size }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        let sum = group.reduce(buffer.map(Double.init))
        for i in buffer.indices { buffer[i] = Float(sum[i]) }
    }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        let sum = group.reduce(Array(buffer))
        for i in buffer.indices { buffer[i] = sum[i] }
    }
    func barrier() throws { _ = group.reduce([]) }
    func abort(status: Int32) -> Never { fatalError("abort \(status)") }
    func finalize() {}
}

@Suite struct DataParallelTests {
    static func request(method: TrainingMethod, out: String) -> FinetuneRequest {
        var request = FinetuneRequest(base: TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy"), output: out)
        request.evalFraction = 0.1
        request.batch = 5
        request.sequence = 16
        request.evalInterval = 2
        request.options.method = method
        request.options.steps = 4
        request.options.learningRate = TrainingOptions.defaultLearningRate(method)
        if method == .adamw { request.options.targets = ["all"] }
        return request
    }

    /// Runs `ranks` threads of one job; returns rank 0's job and the number of all-reduces.
    static func run(_ request: FinetuneRequest, ranks: Int) throws -> (FinetuneJob, Int) {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var jobs: [Int: FinetuneJob] = [:]
            var errors: [Error] = []
        }
        let group = ThreadGroup(size: ranks)
        let results = Results()
        let done = DispatchGroup()
        for rank in 0..<ranks {
            done.enter()
            // Threads, not a dispatch pool: every rank must run at once to meet at the barrier.
            Thread {
                defer { done.leave() }
                do {
                    let job = try FinetuneJob(request, communicator: ThreadRank(rank: rank, group: group))
                    try job.run()
                    results.lock.withLock { results.jobs[rank] = job }
                } catch {
                    results.lock.withLock { results.errors.append(error) }
                }
            }.start()
        }
        done.wait()
        if let error = results.errors.first { throw error }
        return (try #require(results.jobs[0]), group.rounds)
    }

    /// 5 rows over 2 and 3 ranks (uneven slices: 3+2, 2+2+1).
    @Test(arguments: [TrainingMethod.loft, .lora, .adamw])
    func threadRanksTrainAsOneProcess(method: TrainingMethod) throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let single = try FinetuneJob(Self.request(method: method, out: directory + "/one"))
        try single.run()
        for ranks in [2, 3] {
            let out = directory + "/n\(ranks)"
            let (job, rounds) = try Self.run(Self.request(method: method, out: out), ranks: ranks)
            // One barrier, one reduction per step, one per evaluation (steps 0, 2, 4).
            #expect(rounds == 1 + 4 + 3)
            let a = job.trainer.history, b = single.trainer.history
            #expect(a.map(\.step) == b.map(\.step))
            for (x, y) in zip(a, b) {
                if let p = x.loss, let q = y.loss { #expect(abs(p - q) <= 1e-5 * abs(q), "step \(x.step)") }
                if let p = x.evalLoss, let q = y.evalLoss { #expect(abs(p - q) <= 1e-5 * abs(q), "step \(x.step)") }
                #expect((x.loss == nil) == (y.loss == nil) && (x.evalLoss == nil) == (y.evalLoss == nil))
            }
            let model = job.trainer.task.trainableModel, reference = single.trainer.task.trainableModel
            if method == .adamw {
                for (p, q) in zip(model.trainableParameters, reference.trainableParameters) {
                    let d = zip(p.value.matrix!.elements, q.value.matrix!.elements).map { abs($0 - $1) }.max() ?? 0
                    #expect(d <= 1e-5, "\(p.name): \(d)")
                }
            } else {
                for (p, q) in zip(model.lowRankAdapters, reference.lowRankAdapters) {
                    let x = p.pair.product().elements, y = q.pair.product().elements
                    let difference = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
                    let norm = y.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                    #expect(difference <= 1e-3 * norm, "\(p.name): \(difference / norm)")
                }
            }
            let written = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
            #expect(written.contains("checkpoint") && written.contains("log.jsonl") && !written.contains("checkpoint.partial"))
        }
    }
}
