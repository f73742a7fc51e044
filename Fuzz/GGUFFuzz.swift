// libFuzzer target for the GGUF reader, built with the TensorIO sources as one module
// (scripts/fuzz.sh gguf). Any input must either be refused with a GGUFError or read
// completely: every tensor's stored bytes lie inside the input and every tensor reads
// (quantized ones dequantized to float32; a quantized matrix also through QuantizedMatrix, as
// a frozen base holds it, to the same bits). An accepted file, rewritten with the writer's
// header code and the same stored bytes, must read back with the same header and bytes.
// A trap or sanitizer report is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func ggufFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let reader: GGUFReader
    do {
        reader = try read(input, path: "fuzz.gguf")
    } catch is GGUFError {
        return 0
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    let header = reader.header
    let plans = header.tensors.map { GGUFTensorPlan(name: $0.name, dims: $0.dims, type: $0.type) }
    var rewritten = GGUFWriter.header(metadata: header.metadata, tensors: plans, alignment: header.alignment)
    var checksum: Float = 0
    for entry in header.tensors {
        let stored = try! reader.storedData(for: entry.name)
        precondition(stored.count == entry.byteCount && stored.count == plans.first { $0.name == entry.name }!.byteCount)
        let tensor = try! reader.data(for: entry.name)
        precondition(tensor.info.shape == Array(entry.dims.reversed()))
        precondition(tensor.bytes.count == entry.elementCount * (entry.type.isQuantized ? 4 : entry.type.readType.byteWidth!))
        if entry.type.isQuantized, entry.elementCount > 0 { tensor.withElements(as: Float.self) { checksum += $0[0] } }
        // A quantized 2-D tensor held as a frozen base (QuantizedMatrix, `--base-dtype auto`):
        // refused with its error or accepted, and then its last row widens to the reader's floats.
        if entry.type.isQuantized, entry.dims.count == 2, entry.dims[1] > 0 {
            let rows = entry.dims[1], columns = entry.dims[0]
            if let matrix = try? QuantizedMatrix(ggml: entry.type, rows: rows, columns: columns, bytes: stored, owner: nil) {
                var row = [Float](repeating: 0, count: columns)
                row.withUnsafeMutableBufferPointer { matrix.dequantize(row: rows - 1, columns: 0..<columns, into: $0.baseAddress!) }
                tensor.withElements(as: Float.self) { all in
                    for j in 0..<columns { precondition(row[j].bitPattern == all[(rows - 1) * columns + j].bitPattern) }
                }
            }
        }
        rewritten += stored
        rewritten += repeatElement(0, count: GGUFWriter.padded(stored.count, header.alignment) - stored.count)
    }
    let second = rewritten.withUnsafeBytes { try! read($0, path: "fuzz-rewrite.gguf") }
    precondition(second.header.alignment == header.alignment)
    precondition(second.header.metadata.map(\.key) == header.metadata.map(\.key))
    precondition(second.header.tensors.map(\.name) == header.tensors.map(\.name))
    // Values compare by their encoding (a NaN float is not equal to itself).
    let again = second.header.tensors.map { GGUFTensorPlan(name: $0.name, dims: $0.dims, type: $0.type) }
    precondition(GGUFWriter.header(metadata: second.header.metadata, tensors: again, alignment: second.header.alignment)
        == Array(rewritten.prefix(second.header.dataStart)))
    for entry in header.tensors {
        precondition(Array(try! second.storedData(for: entry.name)) == Array(try! reader.storedData(for: entry.name)))
    }
    return checksum.isNaN ? 0 : 0
}

/// A reader over a private copy of `bytes`, as a mapped file would give.
private func read(_ bytes: UnsafeRawBufferPointer, path: String) throws -> GGUFReader {
    let buffer = ByteBuffer(copying: bytes)
    return try GGUFReader(path: path, source: ReaderBytes(bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer))
}
