// Writes a GGUF v3 file tensor by tensor. The header (metadata, every tensor's name, dims,
// type and offset) is known up front from the plan, so it is written first and each tensor's
// bytes are appended as they are produced: one tensor in memory at a time. The file appears
// at its path only on `commit()` (AtomicOutputFile).
//
// Most of an export's time is the kernel copying the output into the page cache (write(2),
// one core). So the writes run on a second thread, one at a time and in order, while the
// next slice is read and encoded on both cores: the encoded slices alternate between two
// buffers, and a buffer is reused only after its write has finished. (Storing the encoded
// bytes straight into a mapping of the output was measured too, on ext4: each first touch
// of a page of the mapping costs a zero-fill and the file system's per-page bookkeeping,
// which made the export's kernel time 2-3x that of write().)

import Dispatch

public struct GGUFTensorPlan: Sendable {
    public let name: String
    /// ggml order: dims[0] is the contiguous dimension (the reverse of a numpy shape).
    public let dims: [Int]
    public let type: GGMLType

    public init(name: String, dims: [Int], type: GGMLType) {
        self.name = name
        self.dims = dims
        self.type = type
    }

    /// A tensor of numpy-order `shape`.
    public init(name: String, shape: [Int], type: GGMLType) {
        self.init(name: name, dims: shape.reversed(), type: type)
    }

    public var elementCount: Int { dims.reduce(1, *) }
    public var byteCount: Int { (elementCount / type.blockSize) * type.typeSize }
}

public final class GGUFWriter {
    public let path: String
    public let alignment: Int
    private let plans: [GGUFTensorPlan]
    private let output: AtomicOutputFile
    private var next = 0

    public init(path: String, metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorPlan], alignment: Int = GGUFHeader.defaultAlignment) throws {
        self.path = path
        self.alignment = alignment
        plans = tensors
        var keys = Set<String>()
        for (key, _) in metadata where !keys.insert(key).inserted { throw GGUFError(path: path, "metadata key \(key) given twice") }
        var names = Set<String>()
        for plan in tensors {
            guard names.insert(plan.name).inserted else { throw GGUFError(path: path, "tensor \(plan.name) given twice") }
            guard plan.dims.count <= GGUFHeader.maxDims, plan.type.rowBytes(plan.dims.first ?? 1) != nil else {
                throw GGUFError(path: path, "tensor \(plan.name): \(plan.dims.reversed()) cannot be stored as \(plan.type)")
            }
        }
        output = try AtomicOutputFile(path: path)
        try output.write(GGUFWriter.header(metadata: metadata, tensors: tensors, alignment: alignment))
    }

    /// The bytes before the data section: tensors laid out in plan order, each at the next
    /// multiple of `alignment`; `general.alignment` is added when it is not the default.
    static func header(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorPlan], alignment: Int) -> [UInt8] {
        var header = GGUFEncoding()
        header.append(contentsOf: GGUFHeader.magic)
        header.append(UInt32(3))
        header.append(UInt64(tensors.count))
        var entries = metadata
        if alignment != GGUFHeader.defaultAlignment, !metadata.contains(where: { $0.key == "general.alignment" }) {
            entries.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        header.append(UInt64(entries.count))
        for (key, value) in entries {
            header.append(key)
            header.append(value.type.rawValue)
            header.append(value)
        }
        var offset = 0
        for plan in tensors {
            header.append(plan.name)
            header.append(UInt32(plan.dims.count))
            for dim in plan.dims { header.append(UInt64(dim)) }
            header.append(plan.type.rawValue)
            header.append(UInt64(offset))
            offset += padded(plan.byteCount, alignment)
        }
        header.pad(to: alignment)
        return header.bytes
    }

    static func padded(_ count: Int, _ alignment: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    /// The tensor the next `write` must be.
    public var nextTensor: GGUFTensorPlan? { next < plans.count ? plans[next] : nil }

    /// Appends the next tensor's bytes (already in its type), then the padding. With an
    /// `owner` (which keeps the bytes alive) the write runs on the writing thread; without
    /// one it is finished before this returns.
    public func write(_ bytes: UnsafeRawBufferPointer, from owner: AnyObject? = nil) throws {
        guard let plan = nextTensor else { throw GGUFError(path: path, "more tensors written than planned") }
        precondition(bytes.count == plan.byteCount, "GGUFWriter: \(plan.name): \(bytes.count) bytes for \(plan.byteCount)")
        try enqueue(bytes, owner: owner, padding: GGUFWriter.padded(bytes.count, alignment) - bytes.count)
        if owner == nil { try drain() }
        next += 1
    }

    /// Encodes float32 values as the next tensor's type and appends them.
    public func write(values: UnsafeBufferPointer<Float>) throws {
        guard let plan = nextTensor else { throw GGUFError(path: path, "more tensors written than planned") }
        precondition(values.count == plan.elementCount, "GGUFWriter: \(plan.name): \(values.count) values for \(plan.elementCount)")
        try write { range, _ in UnsafeBufferPointer(rebasing: values[range]) }
    }

    /// Encodes the next tensor slice by slice: `slice(range, scratch)` returns the float32
    /// values of elements `range` (ggml order), written into `scratch` or found elsewhere (a
    /// float32 source's own mapped bytes); each slice is encoded on both cores and handed to
    /// the writing thread before the next is asked for, so memory stays at two slices
    /// whatever the tensor's size. Slices are whole blocks (rows are whole blocks, so any
    /// block boundary is a valid cut).
    public func write(sliceElements: Int = GGUFWriter.sliceElements, slice: (Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> UnsafeBufferPointer<Float>) throws {
        guard let plan = nextTensor else { throw GGUFError(path: path, "more tensors written than planned") }
        let count = plan.elementCount
        let step = max(1, sliceElements / plan.type.blockSize) * plan.type.blockSize
        // Kept from tensor to tensor (fresh pages would be zeroed by the kernel each time);
        // anonymous mappings, so a scratch the source never fills costs no memory.
        let scratch = buffer(&scratchBuffer, bytes: min(step, count) * 4)
        let floats = scratch.bytes.bindMemory(to: Float.self)
        var start = 0
        while start < count {
            let end = min(count, start + step)
            let values = try slice(start ..< end, UnsafeMutableBufferPointer(rebasing: floats[0 ..< end - start]))
            precondition(values.count == end - start, "GGUFWriter: \(plan.name): \(values.count) values for slice \(start)..<\(end)")
            // The buffer the write before last used: free, since one write is in flight at most.
            let encoded = buffer(&encodedBuffers[turn], bytes: plan.type.rowBytes(min(step, count)) ?? 0)
            turn = 1 - turn
            let bytes = UnsafeMutableRawBufferPointer(rebasing: encoded.bytes[0 ..< plan.type.rowBytes(end - start)!])
            GGMLCodec.encode(values, as: plan.type, into: bytes)
            let padding = end == count ? GGUFWriter.padded(plan.byteCount, alignment) - plan.byteCount : 0
            try enqueue(UnsafeRawBufferPointer(bytes), owner: encoded, padding: padding)
            start = end
        }
        if count == 0 { try enqueue(UnsafeRawBufferPointer(start: nil, count: 0), owner: nil, padding: GGUFWriter.padded(0, alignment)) }
        next += 1
    }

    /// Elements per slice: small enough that a slice's encoded bytes are still in the cache
    /// when write() copies them (measured at 1 GiB, f16: 4M-element slices cost 0.5-1.2 s of
    /// kernel time, 256K 0.35-0.4 s), large enough that the handing over costs nothing.
    public static let sliceElements = 1 << 18

    private var scratchBuffer: ByteBuffer?
    private var encodedBuffers: [ByteBuffer?] = [nil, nil]
    private var turn = 0

    private func buffer(_ kept: inout ByteBuffer?, bytes: Int) -> ByteBuffer {
        if let buffer = kept, buffer.count >= bytes { return buffer }
        let buffer = ByteBuffer(count: bytes)
        kept = buffer
        return buffer
    }

    // MARK: the writing thread

    private let queue = DispatchQueue(label: "loft.gguf.write")
    private let inFlight = DispatchGroup()
    /// Set by the writing thread, read after `inFlight.wait()`.
    private var writeError: Error?
    private lazy var zeros = [UInt8](repeating: 0, count: alignment)

    /// Waits for the write in flight (rethrowing its error), then starts writing `bytes` and
    /// `padding` zero bytes on the writing thread.
    private func enqueue(_ bytes: UnsafeRawBufferPointer, owner: AnyObject?, padding: Int) throws {
        try drain()
        precondition(padding < alignment)
        let zeros = self.zeros
        let job = WriteJob(bytes: bytes, owner: owner)
        queue.async(group: inFlight) { [self] in
            do {
                try withExtendedLifetime(job.owner) { try output.write(job.bytes, from: job.owner) }
                if padding > 0 { try zeros.withUnsafeBytes { try output.write(UnsafeRawBufferPointer(rebasing: $0[0 ..< padding])) } }
            } catch {
                writeError = error
            }
        }
    }

    /// Bytes for the writing thread and the object that keeps them alive.
    private struct WriteJob: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        let owner: AnyObject?
    }

    /// Waits until every write has reached the file; rethrows the first error.
    private func drain() throws {
        inFlight.wait()
        if let error = writeError { throw error }
    }

    /// Bytes in the file so far (once written: after `commit`, all of them).
    public var bytesWritten: Int {
        inFlight.wait()
        return output.offset
    }

    public func commit() throws {
        try drain()
        guard next == plans.count else { throw GGUFError(path: path, "\(plans.count - next) planned tensors were not written") }
        try output.commit()
    }

    deinit { inFlight.wait() }
}

extension GGUFEncoding {
    mutating func append(contentsOf raw: [UInt8]) { for byte in raw { append(byte) } }
}
