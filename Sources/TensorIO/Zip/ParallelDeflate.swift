// Raw deflate on every core, the way pigz does it: the input is cut into 4 MiB blocks, each
// compressed by its own zlib stream, primed with the previous block's last 32 KiB as a
// dictionary (so the ratio stays that of one stream), and ended with a sync flush (an empty
// stored block that ends on a byte boundary) except the last, which ends the stream. The
// blocks' outputs, concatenated in order, are one valid deflate stream that any inflater
// reads. Blocks are compressed a batch (one per core) at a time, so memory stays at a few
// blocks whatever the member's size.

import Compute
import CZlib

enum ParallelDeflate {
    static let blockSize = 4 << 20
    static let dictionarySize = 32 << 10

    /// One block: consecutive slices of the input parts.
    private typealias Block = [UnsafeRawBufferPointer]

    /// Compresses the concatenation of `parts`, handing the compressed bytes in order to
    /// `emit`. Returns the compressed size.
    static func compress(_ parts: [UnsafeRawBufferPointer], level: Int32, path: String, member: String,
                         emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let blocks = split(parts)
        var written = 0
        var start = 0
        while start < blocks.count {
            let batch = Array(start..<min(blocks.count, start + Parallel.coreCount))
            var outputs = [(buffer: ByteBuffer, count: Int)?](repeating: nil, count: batch.count)
            var failures = [Int32?](repeating: nil, count: batch.count)
            outputs.withUnsafeMutableBufferPointer { outputs in
                failures.withUnsafeMutableBufferPointer { failures in
                    Parallel.forEachRange(count: batch.count, minimumChunk: 1) { range in
                        for slot in range {
                            let index = batch[slot]
                            let dictionary = index > 0 ? blocks[index - 1].last.map { $0.count > dictionarySize ? UnsafeRawBufferPointer(rebasing: $0[($0.count - dictionarySize)...]) : $0 } : nil
                            do {
                                outputs[slot] = try deflateBlock(blocks[index], dictionary: dictionary, last: index == blocks.count - 1, level: level)
                            } catch let error as DeflateFailure {
                                failures[slot] = error.status
                            } catch {
                                failures[slot] = Z_STREAM_ERROR
                            }
                        }
                    }
                }
            }
            for slot in batch.indices {
                if let status = failures[slot] {
                    throw FileError.writeFailed(path: path, reason: "member '\(member)': deflate failed (\(status))")
                }
                let output = outputs[slot]!
                try emit(UnsafeRawBufferPointer(rebasing: output.buffer.bytes[..<output.count]))
                written += output.count
            }
            start += batch.count
        }
        return written
    }

    /// Cuts the parts into blocks of at most `blockSize` bytes (a block may span parts, so a
    /// small header and its small data make one block). Always at least one block.
    private static func split(_ parts: [UnsafeRawBufferPointer]) -> [Block] {
        var blocks: [Block] = []
        var current: Block = []
        var fill = 0
        for part in parts {
            var offset = 0
            while offset < part.count {
                let take = min(part.count - offset, blockSize - fill)
                current.append(UnsafeRawBufferPointer(rebasing: part[offset..<(offset + take)]))
                fill += take
                offset += take
                if fill == blockSize {
                    blocks.append(current)
                    current = []
                    fill = 0
                }
            }
        }
        if !current.isEmpty || blocks.isEmpty { blocks.append(current) }
        return blocks
    }

    private struct DeflateFailure: Error { let status: Int32 }

    private static func deflateBlock(_ block: Block, dictionary: UnsafeRawBufferPointer?, last: Bool, level: Int32) throws -> (buffer: ByteBuffer, count: Int) {
        // z_stream points at itself from zlib's state: it needs a fixed address.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        let status = deflateInit2_(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw DeflateFailure(status: status) }
        defer { deflateEnd(stream) }
        if let dictionary, dictionary.count > 0 {
            let status = deflateSetDictionary(stream, dictionary.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(dictionary.count))
            guard status == Z_OK else { throw DeflateFailure(status: status) }
        }
        let inputSize = block.reduce(0) { $0 + $1.count }
        // deflateBound covers one Z_FINISH; a sync flush adds at most a few bytes more.
        let capacity = Int(deflateBound(stream, uLong(inputSize))) + 64
        let output = ByteBuffer(count: capacity)
        stream.pointee.next_out = output.bytes.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(capacity)
        for (i, slice) in block.enumerated() {
            stream.pointee.next_in = UnsafeMutablePointer(mutating: slice.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(slice.count)
            let flush = i < block.count - 1 ? Z_NO_FLUSH : (last ? Z_FINISH : Z_SYNC_FLUSH)
            let status = deflate(stream, flush)
            guard status == (flush == Z_FINISH ? Z_STREAM_END : Z_OK), stream.pointee.avail_in == 0 else { throw DeflateFailure(status: status) }
        }
        if block.isEmpty {
            stream.pointee.avail_in = 0
            let status = deflate(stream, last ? Z_FINISH : Z_SYNC_FLUSH)
            guard status == (last ? Z_STREAM_END : Z_OK) else { throw DeflateFailure(status: status) }
        }
        return (output, capacity - Int(stream.pointee.avail_out))
    }
}
