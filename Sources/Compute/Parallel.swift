// Splitting element-wise work over the machine's cores.

import Dispatch

public enum Parallel {
    /// Number of worker threads used for data-parallel loops: OMP_NUM_THREADS when set (as
    /// OpenBLAS reads it), else the machine's cores, or under mpirun this rank's share of them
    /// (the cores it is bound to, at most the node's cores / the ranks on the node), so that N
    /// ranks on one machine do not each start a thread per core.
    public static let coreCount = ThreadBudget.cores(environment: ThreadBudget.environment)

    /// Calls `body` on disjoint consecutive ranges covering 0..<count, concurrently when the
    /// work is large enough to pay for the threads (`minimumChunk` elements per range).
    public static func forEachRange(count: Int, minimumChunk: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(coreCount, max(1, count / minimumChunk))
        if chunks == 1 { body(0..<count); return }
        let step = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = chunk * step
                let end = min(count, start + step)
                if start < end { body(start..<end) }
            }
        }
    }
}

extension Parallel {
    /// Calls `body` on consecutive ranges of `pieceSize` elements (the last may be shorter),
    /// handed to the cores as they come free. For long streaming loops on a busy machine: a
    /// core that is not scheduled holds up one piece, not half of the work.
    public static func forEachPiece(count: Int, pieceSize: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let size = max(1, pieceSize)
        let pieces = (count + size - 1) / size
        if pieces == 1 || coreCount == 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: pieces) { piece in
                body(piece * size ..< min(count, (piece + 1) * size))
            }
        }
    }
}

/// How many threads a process may use, from the environment the launcher gave it.
public enum ThreadBudget {
    public struct Environment: Sendable {
        public var threads: String?
        /// Ranks of this job on this node (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's
        /// MPI_LOCALNRANKS), nil outside a launcher.
        public var localRanks: String?
        public var onlineCores: Int
        public var allowedCores: Int
    }

    public static var environment: Environment {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return Environment(threads: variable("OMP_NUM_THREADS"), localRanks: variable("OMPI_COMM_WORLD_LOCAL_SIZE") ?? variable("MPI_LOCALNRANKS"),
                           onlineCores: online, allowedCores: affinityCount() ?? online)
    }

    public static func cores(environment e: Environment) -> Int {
        if let text = e.threads?.split(separator: ",").first, let n = Int(text), n > 0 { return n }
        guard let text = e.localRanks, let ranks = Int(text), ranks > 0 else { return e.onlineCores }
        return max(1, min(e.allowedCores, e.onlineCores / ranks))
    }

    /// CPUs in this process's affinity mask (what `mpirun --bind-to` left it), from the
    /// kernel's "Cpus_allowed" mask (sched_getaffinity needs _GNU_SOURCE, which Swift's Glibc lacks).
    static func affinityCount() -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("Cpus_allowed:") else { continue }
            let count = text.dropFirst("Cpus_allowed:".count).reduce(0) { $0 + ($1.hexDigitValue?.nonzeroBitCount ?? 0) }
            return count > 0 ? count : nil
        }
        return nil
    }
}

extension Parallel {
    /// OpenBLAS sizes its pool from the whole machine when it loads; a rank sharing the
    /// machine gives it its own share instead.
    public static func configureBLASThreads() { openblas_set_num_threads(Int32(coreCount)) }
}

import CBLAS
import Glibc
