// The format of torch.save before PyTorch 1.6 (`_use_new_zipfile_serialization=False`),
// still the layout of many early Hugging Face uploads. Five pickles back to back, then the
// storages:
//
//   1. the magic number 0x1950a86a20f9469cfc6c (LONG1)
//   2. the protocol version, 1001
//   3. system info: {'protocol_version', 'little_endian', 'type_sizes'}
//   4. the object, storages as persistent ids ('storage', type, key, location, numel, view)
//   5. the list of storage keys, in the order their data follows
//   then per key: numel as u64 little-endian, and numel x element size raw bytes
//
// Storage data is always little-endian (torch converts on write).

enum TorchLegacyFile {
    static let protocolVersion: Int64 = 1001

    static func read(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TorchContainer {
        let magic = TensorFile.legacyTorchMagic + [0x2E]
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            throw PyTorchError.container(path: path, reason: "not a PyTorch checkpoint (neither a torch.save zip nor the legacy magic number)")
        }
        let machine = PickleMachine(bytes: bytes, path: path, limits: .standard)
        let noPersistentIDs: PickleMachine.PersistentLoad = { _, _, offset in
            throw PickleError.persistentID(path: path, offset: offset, reason: "not expected in the header pickles")
        }
        let version = try machine.run(from: magic.count, persistentLoad: noPersistentIDs)
        guard case let .int(number) = version.heap[version.root], number == protocolVersion else {
            throw PyTorchError.container(path: path, reason: "legacy protocol version is \(version.heap.summary(version.root)), loft reads \(protocolVersion)")
        }
        let info = try machine.run(from: version.end, persistentLoad: noPersistentIDs)
        guard case .dict = info.heap[info.root] else { throw PyTorchError.container(path: path, reason: "the system-info pickle is not a dict") }

        let main = try machine.run(from: info.end) { heap, id, offset in
            try TorchPersistentID.storage(heap, id, offset: offset, path: path, legacy: true)
        }
        let keys = try machine.run(from: main.end, persistentLoad: noPersistentIDs)
        guard case let .list(list) = keys.heap[keys.root] else { throw PyTorchError.container(path: path, reason: "the storage key list is not a list") }

        // Element size of each key, from the storage references the main pickle made.
        var unitSize: [String: Int] = [:]
        var declared: [String: Int] = [:]
        for object in main.heap.objects {
            guard case let .storage(storage) = object else { continue }
            guard let size = storage.unitSize else {
                throw PyTorchError.storage(path: path, key: storage.key, reason: "\(storage.type.name) has no loft dtype")
            }
            if let known = unitSize[storage.key], known != size {
                throw PyTorchError.storage(path: path, key: storage.key, reason: "referenced with two element sizes")
            }
            unitSize[storage.key] = size
            if !storage.isView { declared[storage.key] = storage.numel }
        }

        var storages: [String: Range<Int>] = [:]
        var position = keys.end
        for ref in keys.heap.lists[list] {
            guard case let .string(key) = keys.heap[ref] else { throw PyTorchError.container(path: path, reason: "a storage key is not a string") }
            guard storages[key] == nil else { throw PyTorchError.storage(path: path, key: key, reason: "listed twice") }
            guard let size = unitSize[key] else { throw PyTorchError.storage(path: path, key: key, reason: "listed but never referenced") }
            guard bytes.count - position >= 8 else { throw PyTorchError.storage(path: path, key: key, reason: "its size field is past the end of the file") }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            let (total, overflow) = count.multipliedReportingOverflow(by: UInt64(size))
            guard !overflow, total <= UInt64(bytes.count - position) else {
                throw PyTorchError.storage(path: path, key: key, reason: "\(count) elements of \(size) bytes run past the end of the file")
            }
            if let expected = declared[key], expected != Int(count) {
                throw PyTorchError.storage(path: path, key: key, reason: "the file holds \(count) elements, the pickle says \(expected)")
            }
            storages[key] = position ..< position + Int(total)
            position += Int(total)
        }
        return TorchContainer(heap: main.heap, root: main.root, storages: storages, bigEndian: false, format: "pytorch-legacy")
    }
}
