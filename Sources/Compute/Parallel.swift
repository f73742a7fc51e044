// Splitting element-wise work over the machine's cores.

import Dispatch

public enum Parallel {
    /// Number of worker threads used for data-parallel loops.
    public static let coreCount = max(1, sysconfCoreCount())

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

import Glibc
private func sysconfCoreCount() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
