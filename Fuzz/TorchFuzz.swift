// libFuzzer target for the PyTorch checkpoint reader: the torch.save zip (through the zip
// layer) and the legacy format, built with the TensorIO sources as one module
// (scripts/fuzz.sh torch). Opening must succeed or throw PickleError, PyTorchError or
// ZipError; every tensor of an opened checkpoint must then read with exactly its declared
// size, views and strides gathered from inside the file.

@_cdecl("LLVMFuzzerTestOneInput")
public func torchFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let buffer = ByteBuffer(copying: UnsafeRawBufferPointer(start: data, count: size))
    let reader: PyTorchReader
    do {
        reader = try PyTorchReader(path: "fuzz.pt", bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer)
    } catch is PickleError {
        return 0
    } catch is PyTorchError {
        return 0
    } catch is ZipError {
        return 0
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    precondition(Set(reader.tensors.map(\.name)).count == reader.tensors.count)
    for info in reader.tensors {
        let tensor = try! reader.data(for: info.name)
        precondition(tensor.bytes.count == info.byteCount && tensor.info == info)
        // Touch every byte (a view outside the buffer is a sanitizer report).
        var sum: UInt8 = 0
        for byte in tensor.bytes { sum &+= byte }
        _ = sum
    }
    return 0
}
