// Writes safetensors files byte-identical to the reference's `save_file`.
//
// The reference sorts tensors by dtype, *descending* in its dtype order (U64 first, BOOL
// last), then by name (byte order), packs them back to back, and writes a compact JSON header
// (serde_json: `__metadata__` first, then the tensors in offset order, no spaces) padded with
// spaces to a multiple of 8 bytes. Tensors are fetched one at a time in that order and written
// straight out, so memory stays near the largest tensor (pages of a tensor mapped from
// another file are released once written). The file appears at its path only
// when complete (AtomicOutputFile).
//
// Differences from the reference, both refusals of files it would write but cannot read back
// correctly or at all: a tensor named `__metadata__`, and (our own type) C128.
// An empty metadata list writes no `__metadata__` (the reference writes `{}` for `metadata={}`).

public enum SafetensorsWriter {
    /// Writes `tensors`, asking `data` for each one's bytes in write order.
    public static func write(
        to path: String, tensors: [TensorInfo], metadata: [(key: String, value: String)] = [],
        data: (TensorInfo) throws -> TensorData
    ) throws {
        let output = try AtomicOutputFile(path: path)
        try write(into: output, tensors: tensors, metadata: metadata, data: data)
        try output.commit()
    }

    /// Convenience for tensors already in memory.
    public static func write(to path: String, tensors: [TensorData], metadata: [(key: String, value: String)] = []) throws {
        var byName: [TensorNameKey: TensorData] = [:]
        for tensor in tensors { byName[TensorNameKey(tensor.info.name)] = tensor }
        try write(to: path, tensors: tensors.map(\.info), metadata: metadata) { byName[TensorNameKey($0.name)]! }
    }

    /// The order the reference writes tensors in.
    public static func writeOrder(_ tensors: [TensorInfo]) -> [TensorInfo] {
        tensors.sorted { left, right in
            if left.dtype != right.dtype { return left.dtype.referenceOrder > right.dtype.referenceOrder }
            return left.name.utf8.lexicographicallyPrecedes(right.name.utf8)
        }
    }

    /// The complete header (length prefix, JSON, padding) for tensors already in write order.
    static func header(orderedTensors: [TensorInfo], metadata: [(key: String, value: String)]) -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if !metadata.isEmpty {
            json += Array(#""__metadata__":{"#.utf8)
            for (position, entry) in metadata.enumerated() {
                if position > 0 { json.append(UInt8(ascii: ",")) }
                SerdeJSON.appendString(entry.key, to: &json)
                json.append(UInt8(ascii: ":"))
                SerdeJSON.appendString(entry.value, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        for tensor in orderedTensors {
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            SerdeJSON.appendString(tensor.name, to: &json)
            json += Array(#":{"dtype":""#.utf8) + Array(tensor.dtype.rawValue.utf8) + Array(#"","shape":["#.utf8)
            json += Array(tensor.shape.map(String.init).joined(separator: ",").utf8)
            let end = offset + tensor.byteCount
            json += Array(#"],"data_offsets":[\#(offset),\#(end)]}"#.utf8)
            offset = end
        }
        json.append(UInt8(ascii: "}"))
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + json.count)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64(i)))) }
        return bytes + json
    }

    /// Checks the request, then streams header and tensors into `output` (not committed).
    static func write(
        into output: AtomicOutputFile, tensors: [TensorInfo], metadata: [(key: String, value: String)],
        data: (TensorInfo) throws -> TensorData
    ) throws {
        let path = output.path
        var seen = Set<TensorNameKey>()
        for tensor in tensors {
            if tensor.name == "__metadata__" { throw SafetensorsError.reservedName(path: path, tensor: tensor.name) }
            if !tensor.dtype.isSafetensorsType { throw SafetensorsError.unsupportedDType(path: path, tensor: tensor.name, dtype: tensor.dtype) }
            guard TensorInfo.checkedSizes(shape: tensor.shape, dtype: tensor.dtype) != nil else {
                throw SafetensorsError.validationOverflow(path: path, tensor: tensor.name)
            }
            if tensor.elementCount * tensor.dtype.bitWidth % 8 != 0 {
                throw SafetensorsError.misalignedSlice(path: path, tensor: tensor.name, bits: tensor.elementCount * tensor.dtype.bitWidth)
            }
            guard seen.insert(TensorNameKey(tensor.name)).inserted else { throw SafetensorsError.duplicateTensor(path: path, tensor: tensor.name) }
        }
        let ordered = writeOrder(tensors)
        try output.write(header(orderedTensors: ordered, metadata: metadata))
        for tensor in ordered {
            let tensorData = try data(tensor)
            guard tensorData.info.dtype == tensor.dtype, tensorData.info.shape == tensor.shape,
                  tensorData.bytes.count == tensor.byteCount else {
                throw SafetensorsError.dataMismatch(
                    path: path, tensor: tensor.name,
                    reason: "expected \(tensor.dtype) \(tensor.shape) (\(tensor.byteCount) bytes), got \(tensorData.info.dtype) \(tensorData.info.shape) (\(tensorData.bytes.count) bytes)")
            }
            if tensorData.bytes.count > 0 { try output.write(tensorData.bytes, from: tensorData.owner) }
            releaseIfMapped(tensorData)
        }
    }

    /// A tensor read from a mapped file has just been copied out: drop its pages, or a
    /// streaming copy of a whole checkpoint would end with all of it resident. (Releasing in
    /// the `data` callback is too early: the pages are touched by the write after it returns.)
    /// (With the kernel copy the pages were never touched and this costs one madvise.)
    private static func releaseIfMapped(_ tensor: TensorData) {
        guard let mapped = tensor.owner as? MappedFile, let offset = mapped.offset(of: tensor.bytes) else { return }
        mapped.release(offset: offset, count: tensor.bytes.count)
    }
}
