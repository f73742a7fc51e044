// The bytes of one tensor: little-endian, C order, as safetensors stores them.
//
// A TensorData is a view. Its `owner` keeps the memory alive: a file mapping (no copy, the
// common case for safetensors) or a ByteBuffer (an npz member inflated, big-endian or
// Fortran-order npy data rearranged, a converted tensor).

import Glibc

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
    /// Views into files can start at any byte (safetensors packs tensors back to back, np.savez
    /// does not align members): those are copied to an aligned buffer for the call.
    public func withElements<T, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(bytes.count % MemoryLayout<T>.stride == 0 && MemoryLayout<T>.stride * 8 <= info.dtype.bitWidth)
        let source = isAligned(to: MemoryLayout<T>.alignment) ? self : aligned()
        return try withExtendedLifetime(source.owner) { try body(source.bytes.bindMemory(to: T.self)) }
    }

    /// Whether the bytes start at a multiple of `alignment`.
    public func isAligned(to alignment: Int) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        return Int(bitPattern: base) % alignment == 0
    }

    /// This tensor, or an aligned copy of it when its bytes do not start at a multiple of the
    /// element size (8 for the 16-byte complex types): for code that reads them typed.
    public func aligned() -> TensorData {
        if isAligned(to: min(8, max(1, info.dtype.byteWidth ?? 1))) { return self }
        return TensorData(info: info, buffer: ByteBuffer(copying: bytes))
    }
}

/// A heap buffer, 64-byte aligned so SIMD loops and BLAS get aligned rows.
///
/// Buffers of 1 MiB and more are mapped from the kernel (from 4 MiB advised to use
/// transparent huge pages) and unmapped on release:
/// - huge pages: a fresh 512 MiB output otherwise costs 131072 page faults, which measured
///   3-5x the time of an F32 -> F16 conversion itself (NumPy advises huge pages likewise);
/// - mapped, not malloc'ed: tensors streamed one after another fragmented the heap (glibc
///   raises its mmap threshold after the first big free; each freed buffer then left a hole
///   the next aligned request did not fit), measured +512 MiB peak RSS converting 128 x 8 MiB
///   tensors to f16 in about half the runs.
public final class ByteBuffer: @unchecked Sendable {
    public let bytes: UnsafeMutableRawBufferPointer
    private let mapped: Bool

    public init(count: Int) {
        if count >= 1 << 20, let address = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
           address != MAP_FAILED {
            // The kernel places anonymous mappings of 2 MiB and more on 2 MiB boundaries.
            if count >= 1 << 22 { _ = madvise(address, count, MADV_HUGEPAGE) }
            bytes = UnsafeMutableRawBufferPointer(start: address, count: count)
            mapped = true
            return
        }
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        bytes = UnsafeMutableRawBufferPointer(start: pointer, count: count)
        mapped = false
    }

    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if source.count > 0 { bytes.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count) }
    }

    public var count: Int { bytes.count }

    deinit {
        if mapped { munmap(bytes.baseAddress, bytes.count); return }
        bytes.baseAddress?.deallocate()
    }
}

extension TensorData {
    /// Drops the pages of a block already consumed, so a streaming job holds one block of the
    /// input, not the whole tensor. Only for views into a file mapping: heap memory must not
    /// be discarded (MADV_DONTNEED would zero it).
    public func releaseMappedPages(_ bytes: UnsafeRawBufferPointer) {
        guard let file = owner as? MappedFile, let start = bytes.baseAddress, let base = file.bytes.baseAddress else { return }
        file.release(offset: start - base, count: bytes.count)
    }
}
