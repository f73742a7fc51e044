// CRC-32 (the zip polynomial) through zlib. Large buffers are split between the cores and
// the partial checksums joined with crc32_combine, which costs O(log n), not a re-read.
//
// zlib 1.2's crc32 is table-driven, about 3 GB/s a core here: a third of the CPU time of
// writing or reading a stored 1 GiB .npz (perf record). When libdeflate is installed its
// crc32 (carry-less multiply, same polynomial, same continuation convention) is used
// instead, loaded at run time so it stays optional.

import Compute
import Glibc
import CZlib

enum CRC32 {
    private typealias Function = @convention(c) (UInt32, UnsafeRawPointer?, Int) -> UInt32
    private static let libdeflate: Function? = {
        guard let handle = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL),
              let symbol = dlsym(handle, "libdeflate_crc32") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }()

    /// Off in tests, to check both implementations against each other.
    nonisolated(unsafe) static var libdeflateEnabled = true

    static var usesLibdeflate: Bool { libdeflateEnabled && libdeflate != nil }

    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        if libdeflateEnabled, let libdeflate { return libdeflate(crc, bytes.baseAddress, bytes.count) }
        guard var pointer = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return crc }
        var value = UInt(crc)
        var remaining = bytes.count
        // zlib's length argument is 32-bit.
        while remaining > 0 {
            let chunk = min(remaining, 1 << 30)
            value = crc32(value, pointer, uInt(chunk))
            pointer += chunk
            remaining -= chunk
        }
        return UInt32(truncatingIfNeeded: value)
    }

    static func combine(_ first: UInt32, _ second: UInt32, secondLength: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32_combine(uLong(first), uLong(second), off_t(secondLength)))
    }

    /// The checksum of `bytes`, computed on all cores when the buffer is big enough to pay.
    static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        let minimumChunk = 4 << 20
        let parts = min(Parallel.coreCount, max(1, bytes.count / minimumChunk))
        if parts == 1 { return update(crc, bytes) }
        let step = (bytes.count + parts - 1) / parts
        var partial = [UInt32](repeating: 0, count: parts)
        partial.withUnsafeMutableBufferPointer { results in
            Parallel.forEachRange(count: parts, minimumChunk: 1) { range in
                for part in range {
                    let start = part * step
                    let end = min(bytes.count, start + step)
                    results[part] = update(0, UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                }
            }
        }
        var result = crc
        for part in 0..<parts {
            let length = min(bytes.count, (part + 1) * step) - part * step
            result = combine(result, partial[part], secondLength: length)
        }
        return result
    }
}
