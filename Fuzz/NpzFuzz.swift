// libFuzzer target for the .npz reader and its zip layer, built with the TensorIO sources as
// one module (scripts/fuzz.sh npz). Opening must succeed or throw ZipError/NpyError; every
// tensor of an opened archive must then read with exactly its declared size, or throw one
// of those errors (CRC mismatch, corrupt or oversized deflate data). A trap, a sanitizer
// report, a hang or an allocation beyond the fuzzer's RSS limit is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func npzFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let buffer = ByteBuffer(copying: UnsafeRawBufferPointer(start: data, count: size))
    let reader: NpzReader
    do {
        reader = try NpzReader(path: "fuzz.npz", bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer)
    } catch is ZipError {
        return 0
    } catch is NpyError {
        return 0
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    precondition(Set(reader.tensors.map(\.name)).count == reader.tensors.count)
    for info in reader.tensors {
        do {
            let tensor = try reader.data(for: info.name)
            precondition(tensor.bytes.count == info.byteCount)
            precondition(tensor.info == info)
        } catch is ZipError {
        } catch {
            fatalError("unexpected error reading '\(info.name)': \(error)")
        }
    }
    return 0
}
