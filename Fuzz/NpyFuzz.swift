// libFuzzer target for the .npy reader, built with the TensorIO sources as one module
// (scripts/fuzz.sh npy). Any input must either be refused with an NpyError or read
// completely; an accepted array, written back with np.save's header, must read back as the
// same tensor with the same bytes. A trap or sanitizer report is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func npyFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let buffer = ByteBuffer(copying: UnsafeRawBufferPointer(start: data, count: size))
    let reader: NpyReader
    do {
        reader = try NpyReader(path: "fuzz.npy", bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer)
    } catch is NpyError {
        return 0
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    let info = reader.tensors[0]
    precondition(info.name == "fuzz")
    let tensor = try! reader.data(for: "fuzz")
    precondition(tensor.bytes.count == info.byteCount)

    var rewritten = try! NpyWriter.header(for: info, path: "fuzz-rewrite.npy")
    rewritten += Array(tensor.bytes)
    let again = ByteBuffer(copying: rewritten.withUnsafeBytes { $0 })
    let second = try! NpyReader(path: "fuzz.npy", bytes: UnsafeRawBufferPointer(again.bytes), owner: again)
    precondition(second.tensors == reader.tensors)
    precondition(!second.header.bigEndian && !second.header.fortranOrder)
    precondition(Array(try! second.data(for: "fuzz").bytes) == Array(tensor.bytes))
    return 0
}
