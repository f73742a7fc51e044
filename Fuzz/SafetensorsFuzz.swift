// libFuzzer target for the safetensors reader, built with the TensorIO sources as one module
// (scripts/fuzz.sh safetensors). Any input must either be rejected with a SafetensorsError or
// read completely; an accepted file, rewritten by the writer's header code with the same
// data, must read back as the same tensors. A trap or sanitizer report is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func safetensorsFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let buffer = ByteBuffer(copying: UnsafeRawBufferPointer(start: data, count: size))
    let reader: SafetensorsReader
    do {
        reader = try SafetensorsReader(buffer: buffer, path: "fuzz-input")
    } catch is SafetensorsError {
        return 0
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    var rewritten: [UInt8] = SafetensorsWriter.header(orderedTensors: SafetensorsWriter.writeOrder(reader.tensors), metadata: reader.metadata)
    var checksum: UInt8 = 0
    for tensor in SafetensorsWriter.writeOrder(reader.tensors) {
        let bytes = try! reader.data(for: tensor.name).bytes
        precondition(bytes.count == tensor.byteCount)
        for byte in bytes { checksum &+= byte }
        rewritten += bytes
    }
    let again = ByteBuffer(copying: rewritten.withUnsafeBytes { $0 })
    let second = try! SafetensorsReader(buffer: again, path: "fuzz-rewrite")
    precondition(second.metadata.map(\.key) == reader.metadata.map(\.key) && second.metadata.map(\.value) == reader.metadata.map(\.value))
    precondition(Set(second.tensors) == Set(reader.tensors))
    for tensor in second.tensors {
        precondition(Array(try! second.data(for: tensor.name).bytes) == Array(try! reader.data(for: tensor.name).bytes))
    }
    return checksum == 0xFF ? 0 : 0
}
