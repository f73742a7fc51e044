// The bytes of one tensor: little-endian, C order, as safetensors stores them.
//
// A TensorData is a view. Its `owner` keeps the memory alive: a file mapping (no copy, the
// common case for safetensors) or a ByteBuffer (an npz member inflated, big-endian or
// Fortran-order npy data rearranged, a converted tensor).

#if canImport(Glibc)
import Glibc
#endif

public struct TensorData: @unchecked Sendable {
    public let info: TensorInfo
    public let bytes: UnsafeRawBufferPointer
    public let owner: AnyObject?

    public init(info: TensorInfo, bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        precondition(bytes.count == info.byteCount, "TensorData: \(bytes.count) bytes for \(info.byteCount)")
        self.info = info
        self.bytes = bytes
        self.owner = owner
    }

    public init(info: TensorInfo, buffer: ByteBuffer) {
        self.init(info: info, bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer)
    }

    /// Runs `body` with the bytes typed as T: one T per element, or several for a complex
    /// dtype read as its real parts (C64 as Float pairs). T's size must divide the byte count.
    public func withElements<T, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(bytes.count % MemoryLayout<T>.stride == 0 && MemoryLayout<T>.stride * 8 <= info.dtype.bitWidth)
        return try body(bytes.bindMemory(to: T.self))
    }
}

/// A heap buffer, 64-byte aligned so SIMD loops and BLAS get aligned rows.
public final class ByteBuffer: @unchecked Sendable {
    public let bytes: UnsafeMutableRawBufferPointer

    public init(count: Int) {
        // Large buffers on 2 MiB boundaries, advised to use transparent huge pages: a fresh
        // 512 MiB output otherwise costs 131072 page faults, which measured 3-5x the time of
        // an F32 -> F16 conversion itself (NumPy advises huge pages for the same reason).
        let huge = count >= 1 << 22
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: huge ? 1 << 21 : 64)
        #if canImport(Glibc)
        if huge { _ = madvise(pointer, count, MADV_HUGEPAGE) }
        #endif
        bytes = UnsafeMutableRawBufferPointer(start: pointer, count: count)
    }

    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if source.count > 0 { bytes.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count) }
    }

    public var count: Int { bytes.count }

    deinit { bytes.baseAddress?.deallocate() }
}
