// One tensor's place in its storage, checked, and how to get its bytes in C order.
//
// A tensor is `shape` elements of `dtype` at `offset` with `stride` (in elements) inside a
// storage. At open every size is checked before it is trusted: non-negative dimensions and
// strides, no overflow in the element count or the extent, the extent inside the storage.
// A contiguous little-endian tensor is a view into the file mapping (no copy); a view with
// other strides (a transpose, a slice) is gathered into C order, and big-endian storages are
// byte-swapped per element (per component for complex types).

struct TorchTensorLayout {
    let info: TensorInfo
    /// The storage's bytes in the file.
    let storage: Range<Int>
    let elementSize: Int
    let offset: Int
    let stride: [Int]
    let contiguous: Bool
    /// Bytes of the storage the tensor touches, relative to the storage start.
    let extent: Range<Int>

    static let maxDimensions = 64

    init(name: String, record: TorchTensorRecord, storages: [String: Range<Int>], path: String) throws {
        func fail(_ reason: String) -> PyTorchError { .tensor(path: path, tensor: name, reason: reason) }
        guard let dtype = record.dtype.dtype, let elementSize = dtype.byteWidth else {
            throw PyTorchError.unsupportedDType(path: path, tensor: name, dtype: "torch.\(record.dtype.name)")
        }
        let storageRef = record.storage
        guard let unit = storageRef.unitSize else {
            throw PyTorchError.unsupportedDType(path: path, tensor: name, dtype: storageRef.type.name)
        }
        guard let member = storages[storageRef.key] else {
            throw PyTorchError.storage(path: path, key: storageRef.key, reason: "referenced by tensor '\(name)' but not in the file")
        }
        let (viewStart, o1) = storageRef.viewOffset.multipliedReportingOverflow(by: unit)
        let (viewBytes, o2) = storageRef.numel.multipliedReportingOverflow(by: unit)
        guard !o1, !o2, viewStart <= member.count, viewBytes <= member.count - viewStart else {
            throw PyTorchError.storage(path: path, key: storageRef.key, reason: "declares \(storageRef.numel) x \(unit) bytes (at element \(storageRef.viewOffset)) but holds \(member.count) bytes")
        }
        // A storage must be exactly its bytes (torch writes nbytes); only a legacy view is a
        // part of another.
        guard storageRef.isView || viewBytes == member.count else {
            throw PyTorchError.storage(path: path, key: storageRef.key, reason: "declares \(viewBytes) bytes but holds \(member.count)")
        }
        storage = member.lowerBound + viewStart ..< member.lowerBound + viewStart + viewBytes
        self.elementSize = elementSize

        let shape = record.shape
        guard shape.count <= TorchTensorLayout.maxDimensions else { throw fail("\(shape.count) dimensions (loft reads up to \(TorchTensorLayout.maxDimensions))") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("negative size in \(shape)") }
        guard record.stride.allSatisfy({ $0 >= 0 }) else { throw fail("negative stride in \(record.stride)") }
        guard record.offset >= 0 else { throw fail("negative storage offset \(record.offset)") }
        guard let sizes = TensorInfo.checkedSizes(shape: shape, dtype: dtype) else { throw fail("size \(shape) overflows") }
        info = TensorInfo(name: name, dtype: dtype, shape: shape)
        offset = record.offset
        stride = record.stride

        var expected = 1
        var isContiguous = true
        var last = record.offset
        for (size, step) in zip(shape, record.stride).reversed() {
            if size != 1 && step != expected { isContiguous = false }
            expected = expected &* size
            if size > 0 {
                let (span, o3) = (size - 1).multipliedReportingOverflow(by: step)
                let (sum, o4) = last.addingReportingOverflow(span)
                guard !o3, !o4 else { throw fail("stride \(record.stride) with size \(shape) overflows") }
                last = sum
            }
        }
        contiguous = isContiguous
        if sizes.elements == 0 {
            extent = 0..<0
        } else {
            let (start, o5) = record.offset.multipliedReportingOverflow(by: elementSize)
            let (end, o6) = (last + 1).multipliedReportingOverflow(by: elementSize)
            guard !o5, !o6, end <= storage.count else {
                throw fail("offset \(record.offset), size \(shape), stride \(record.stride) reach element \(last) of a storage of \(storage.count / max(elementSize, 1)) elements")
            }
            extent = start..<end
        }
    }

    /// The tensor's bytes, C order, little-endian.
    func data(file: UnsafeRawBufferPointer, owner: AnyObject?, bigEndian: Bool) -> TensorData {
        let base = file.baseAddress! + storage.lowerBound
        let swap = bigEndian && elementSize > 1
        if contiguous && !swap {
            let bytes = info.byteCount == 0 ? UnsafeRawBufferPointer(start: base, count: 0)
                : UnsafeRawBufferPointer(start: base + extent.lowerBound, count: info.byteCount)
            return TensorData(info: info, bytes: bytes, owner: owner)
        }
        let buffer = ByteBuffer(count: info.byteCount)
        if info.byteCount > 0 {
            gather(from: base, into: buffer.bytes.baseAddress!)
            if swap { TorchTensorLayout.swapBytes(buffer.bytes, width: info.dtype.isComplex ? elementSize / 2 : elementSize) }
        }
        return TensorData(info: info, buffer: buffer)
    }

    /// Copies the strided elements in C order: runs of the innermost dimension when it is
    /// contiguous, single elements otherwise; an odometer over the outer dimensions (no
    /// recursion).
    private func gather(from base: UnsafeRawPointer, into output: UnsafeMutableRawPointer) {
        let shape = info.shape
        if shape.isEmpty {
            output.copyMemory(from: base + offset * elementSize, byteCount: elementSize)
            return
        }
        let inner = shape.count - 1
        let innerCount = shape[inner], innerStride = stride[inner]
        var index = [Int](repeating: 0, count: inner)
        var written = 0
        let runBytes = innerCount * elementSize
        while true {
            var start = offset
            for d in 0..<inner { start += index[d] * stride[d] }
            if innerStride == 1 || innerCount == 1 {
                (output + written).copyMemory(from: base + start * elementSize, byteCount: runBytes)
            } else {
                var source = base + start * elementSize
                var target = output + written
                let step = innerStride * elementSize
                switch elementSize {
                case 2: for _ in 0..<innerCount { target.storeBytes(of: source.loadUnaligned(as: UInt16.self), as: UInt16.self); source += step; target += 2 }
                case 4: for _ in 0..<innerCount { target.storeBytes(of: source.loadUnaligned(as: UInt32.self), as: UInt32.self); source += step; target += 4 }
                case 8: for _ in 0..<innerCount { target.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self); source += step; target += 8 }
                default: for _ in 0..<innerCount { target.copyMemory(from: source, byteCount: elementSize); source += step; target += elementSize }
                }
            }
            written += runBytes
            var d = inner - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    static func swapBytes(_ bytes: UnsafeMutableRawBufferPointer, width: Int) {
        guard width > 1 else { return }
        var at = 0
        while at + width <= bytes.count {
            var low = at, high = at + width - 1
            while low < high { bytes.swapAt(low, high); low += 1; high -= 1 }
            at += width
        }
    }
}
