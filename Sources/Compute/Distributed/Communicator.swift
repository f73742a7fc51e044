// The processes of one data-parallel job, as the training loop sees them: how many there
// are, which one this is, and a sum across all of them. A plain run is one `SingleProcess`
// (every call is free and changes nothing); a run started by `mpirun -np N` is an
// `MPICommunicator` (MPICommunicator.swift), which loads the MPI library only then.

public protocol Communicator: AnyObject {
    /// This process's index, 0..<size; rank 0 writes the outputs.
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `buffer` on every rank by the element-wise sum of all ranks' buffers.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Returns once every rank has called it.
    func barrier() throws
    /// Ends every rank of the job with `status` (after this rank has said why).
    func abort(status: Int32) -> Never
    /// The last call: releases the library (a no-op for one process).
    func finalize()
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
    public var shard: Shard { Shard(index: rank, count: size) }

    /// Sums two numbers across the ranks (an evaluation's loss total and its count).
    public func allReduceSum(_ a: Double, _ b: Double) throws -> (Double, Double) {
        var values = [a, b]
        try values.withUnsafeMutableBufferPointer { try allReduceSum($0) }
        return (values[0], values[1])
    }
}

/// One of `count` equal parts of a sequence of work items: part `index` takes a contiguous
/// range, the first `n % count` parts one item more than the others. Part 0 of 1 is the whole.
public struct Shard: Sendable, Equatable {
    public let index: Int
    public let count: Int

    public static let whole = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count, "Shard \(index) of \(count)")
        self.index = index
        self.count = count
    }

    public func range(of n: Int) -> Range<Int> {
        let base = n / count, extra = n % count
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }
}

/// The default: this process is the whole job.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func barrier() throws {}
    public func abort(status: Int32) -> Never { exit(status) }
    public func finalize() {}
}

import Glibc
