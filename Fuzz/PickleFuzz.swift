// libFuzzer target for the pickle virtual machine and the state dict walk, built with the
// TensorIO sources as one module (scripts/fuzz.sh pickle). Any bytes must run to a result or
// end in a PickleError / PyTorchError; the machine never executes anything, so the findings
// are traps, sanitizer reports, hangs (deep or shared structures) and oversized allocations.

@_cdecl("LLVMFuzzerTestOneInput")
public func pickleFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let machine = PickleMachine(bytes: bytes, path: "fuzz.pkl", limits: .standard)
    do {
        let result = try machine.run { heap, id, offset in
            try TorchPersistentID.storage(heap, id, offset: offset, path: "fuzz.pkl", legacy: size % 2 == 1)
        }
        precondition(result.end <= size)
        let selected = try TorchStateDict.select(result.heap, root: result.root, key: size % 3 == 0 ? "model" : nil, path: "fuzz.pkl")
        precondition(!selected.tensors.isEmpty)
        for (name, record) in selected.tensors {
            // Geometry checks against a storage of the size the id declares.
            let unit = record.storage.unitSize ?? 1
            let storages = [record.storage.key: 0 ..< min(record.storage.numel, 1 << 20) * unit]
            _ = try? TorchTensorLayout(name: name, record: record, storages: storages, path: "fuzz.pkl")
        }
    } catch is PickleError {
    } catch is PyTorchError {
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    return 0
}
