// How a step spreads LoFT pairs over the cores. A model has hundreds of pairs of a few
// thousand rows each: multi-threaded BLAS on every small product of every pair pays a
// thread hand-off per call and leaves the serial parts of a pair (the r x r algebra in
// Double, the packing loops, rebalancing) on one core. So when there are enough pairs, each
// core takes whole pairs, with OpenBLAS on one thread meanwhile; with a few (large) pairs,
// the pairs run in order and the products and loops inside each use all cores.
//
// The work a pair does is the same either way: its products split no sums across threads,
// and its loops are elementwise, so a step gives the same numbers in both modes.

import CBLAS
import Compute
import Dispatch
import Synchronization

/// One worker's scratch memory for the full-size passes (the m x w tiles of the projected
/// update), kept between steps so a step neither allocates nor zero-fills them, and whether
/// the loops inside a pair may use the other cores.
final class LoFTWorkspace {
    /// False while the pairs themselves run in parallel.
    let parallel: Bool
    /// Floats per tile: with a core to itself a worker keeps its two tiles within its own
    /// cache (2^16 floats, 256 KiB each); spread over all cores a pass uses larger tiles so
    /// each product is worth splitting.
    let tileElements: Int
    private var buffer: UnsafeMutablePointer<Float>?
    private var capacity = 0

    init(parallel: Bool) {
        self.parallel = parallel
        tileElements = parallel ? 1 << 20 : 1 << 16
    }

    deinit { buffer?.deallocate() }

    /// Two disjoint buffers of `count` floats each (contents undefined).
    func tiles(_ count: Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let needed = 2 * max(count, 1)
        if needed > capacity {
            buffer?.deallocate()
            buffer = UnsafeMutablePointer<Float>.allocate(capacity: needed)
            capacity = needed
        }
        return (buffer!, buffer! + max(count, 1))
    }

    /// Parallel.forEachRange when the loops may use the other cores, else one range.
    func forEachRange(count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
        if parallel { Parallel.forEachRange(count: count, minimumChunk: minimumChunk, body) } else if count > 0 { body(0..<count) }
    }
}

/// The workspaces of an optimizer: one for running pairs in order, one per core for running
/// them in parallel.
final class LoFTWorkers {
    private lazy var inOrder = LoFTWorkspace(parallel: true)
    private lazy var perCore = (0..<Parallel.coreCount).map { _ in LoFTWorkspace(parallel: false) }

    /// Calls body(index, workspace) for every index in 0..<count. `cost(index)` is the work of
    /// item `index` (the largest go first, so the cores finish together); items are taken in
    /// parallel only when there are at least two per core.
    func forEach(_ count: Int, cost: (Int) -> Int, _ body: (Int, LoFTWorkspace) -> Void) {
        let workers = Parallel.coreCount
        guard workers > 1, count >= 2 * workers else {
            for index in 0..<count { body(index, inOrder) }
            return
        }
        // Largest first, each to the next core that comes free: on a shared machine a core
        // that is not scheduled holds up one pair, not a fixed share of them.
        let costs = (0..<count).map(cost)
        let order = (0..<count).sorted { costs[$0] > costs[$1] || (costs[$0] == costs[$1] && $0 < $1) }
        let next = Atomic<Int>(0)
        let workspaces = perCore
        withSingleThreadedBLAS {
            withoutActuallyEscaping(body) { body in
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    while true {
                        let item = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard item < count else { break }
                        body(order[item], workspaces[worker])
                    }
                }
            }
        }
    }

    private func withSingleThreadedBLAS(_ body: () -> Void) {
        let threads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(threads) }
        body()
    }
}
