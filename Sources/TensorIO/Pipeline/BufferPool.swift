// Reusing the cast buffers of a conversion.
//
// Every cast tensor needs an output buffer; fresh ones (ByteBuffer maps 1 MiB and more from
// the kernel) cost a zero-filled page fault per 4 KiB page, measured at 136,000 faults for a
// 1 GiB f32 -> f16 conversion. A conversion has at most three casts alive at a time (the
// tensor being written, the one being prefetched, an intermediate of a two-step cast), so
// a few recycled buffers serve the whole file.
//
// A buffer goes back to the pool only when the writer has asked for the next tensor, which
// every writer does after it has written the previous one (their streaming contract).

import Glibc

final class BufferPool: @unchecked Sendable {
    private var free: [ByteBuffer] = []
    private var mutex = pthread_mutex_t()
    private let capacity: Int

    init(capacity: Int = 3) {
        self.capacity = capacity
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// A buffer of at least `count` bytes: the smallest free one that fits, or a new one.
    func take(_ count: Int) -> ByteBuffer {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let fitting = free.indices.filter { free[$0].count >= count }
        if let best = fitting.min(by: { free[$0].count < free[$1].count }) {
            return free.remove(at: best)
        }
        return ByteBuffer(count: count)
    }

    /// Returns a buffer; past `capacity` the smallest is released.
    func give(_ buffer: ByteBuffer) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        free.append(buffer)
        if free.count > capacity, let smallest = free.indices.min(by: { free[$0].count < free[$1].count }) {
            free.remove(at: smallest)
        }
    }

    /// `data` cast to `dtype` into a pooled buffer (the result's owner is that buffer).
    func convert(_ data: TensorData, to dtype: DType) throws -> TensorData {
        let info = TensorInfo(name: data.info.name, dtype: dtype, shape: data.info.shape)
        let buffer = take(info.byteCount)
        do {
            try DTypeConversion.convert(from: data.info.dtype, source: data.bytes, to: dtype,
                                        destination: UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<info.byteCount]),
                                        count: info.elementCount)
        } catch {
            give(buffer)
            throw error
        }
        return TensorData(info: info, bytes: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<info.byteCount]),
                          owner: PooledBuffer(buffer))
    }
}

/// The owner of a tensor cast into a pooled buffer: tells the pipeline which buffers to give
/// back (a reader's own buffers are not the pool's).
final class PooledBuffer {
    let buffer: ByteBuffer
    init(_ buffer: ByteBuffer) { self.buffer = buffer }
}
