// The pieces of data parallelism that need no MPI: how a batch is split over the ranks, how
// many threads a rank takes, and that a process not started by mpirun is one process.

import Testing
@testable import Compute

@Suite struct DistributedTests {
    /// Shards are contiguous, in order, cover 0..<n exactly once, and differ by at most one.
    @Test func shardsSplitEvenlyAndCoverEverything() {
        for n in [0, 1, 3, 4, 7, 16, 101] {
            for count in 1...6 {
                let ranges = (0..<count).map { Shard(index: $0, count: count).range(of: n) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == n)
                for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                let sizes = ranges.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1)
                #expect(sizes == sizes.sorted(by: >))
            }
        }
        #expect(Shard.whole.range(of: 9) == 0..<9)
    }

    @Test func threadsFollowTheLauncher() {
        func cores(_ threads: String?, _ ranks: String?, online: Int = 8, allowed: Int = 8) -> Int {
            ThreadBudget.cores(environment: .init(threads: threads, localRanks: ranks, onlineCores: online, allowedCores: allowed))
        }
        #expect(cores(nil, nil) == 8)                 // a plain run: every core, as before
        #expect(cores("3", nil) == 3)                 // OMP_NUM_THREADS, as OpenBLAS reads it
        #expect(cores("2,1", "4") == 2)               // nested OpenMP lists: the outer level
        #expect(cores(nil, "2") == 4)                 // 2 ranks, unbound: half the cores each
        #expect(cores(nil, "2", allowed: 1) == 1)     // bound to one core by mpirun
        #expect(cores(nil, "16") == 1)                // oversubscribed: one each, never zero
        #expect(cores("0", "2") == 4 && cores("x", nil) == 8)  // nonsense is ignored
    }

    @Test func aPlainProcessIsTheWholeJob() throws {
        #expect(Distributed.launchedSize == nil)
        let communicator = try Distributed.communicator()
        #expect(communicator is SingleProcess && communicator.rank == 0 && communicator.size == 1 && communicator.isRoot)
        var values: [Float] = [1, 2]
        try values.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        #expect(values == [1, 2])
        let (total, count) = try communicator.allReduceSum(3, 4)
        #expect(total == 3 && count == 4)
    }
}
