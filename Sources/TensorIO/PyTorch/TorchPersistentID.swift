// The one kind of persistent id a checkpoint may hold: a storage reference,
//   ('storage', StorageType, key, location, numel)                     torch.save (zip)
//   ('storage', StorageType, key, location, numel, view_metadata)      legacy (pre-1.6)
// where view_metadata is None or (view_key, offset, view_size) for an old storage view.
// Anything else is refused: a persistent id is how a pickle reaches outside itself.

enum TorchPersistentID {
    static func storage(_ heap: PickleHeap, _ id: PickleRef, offset: Int, path: String, legacy: Bool) throws -> PickleRef {
        func fail(_ reason: String) -> PickleError { .persistentID(path: path, offset: offset, reason: reason) }
        guard case let .tuple(items) = heap[id] else { throw fail("a \(heap.summary(id)), not a storage tuple") }
        guard let first = items.first, case let .string(tag) = heap[first] else { throw fail("not a storage reference") }
        guard tag == "storage" else { throw fail("kind '\(tag)' is not a storage (only storages are loaded)") }
        guard items.count == (legacy ? 6 : 5) else { throw fail("a storage reference has \(legacy ? 6 : 5) fields, this one \(items.count)") }
        guard case let .global(.storageType(type)) = heap[items[1]] else { throw fail("field 2 is a \(heap.summary(items[1])), not a storage class") }
        guard case let .string(key) = heap[items[2]] else { throw fail("the storage key is not a string") }
        guard case .string = heap[items[3]] else { throw fail("the storage location is not a string") }
        guard case let .int(numel) = heap[items[4]], numel >= 0, let count = Int(exactly: numel) else { throw fail("the storage size is not a count") }
        guard !key.isEmpty, !key.contains("/"), !key.contains("\\"), key != ".", key != ".." else { throw fail("storage key '\(key)' is not a plain name") }
        var storage = TorchStorageRef(type: type, key: key, numel: count)
        if legacy, case let .tuple(view) = heap[items[5]] {
            guard view.count == 3, case let .string(viewKey) = heap[view[0]], case let .int(viewOffset) = heap[view[1]],
                  case let .int(viewSize) = heap[view[2]], viewOffset >= 0, viewSize >= 0,
                  let start = Int(exactly: viewOffset), let size = Int(exactly: viewSize) else {
                throw fail("malformed storage view")
            }
            _ = viewKey
            storage = TorchStorageRef(type: type, key: key, numel: size, viewOffset: start, isView: true)
        } else if legacy, !(heap[items[5]].isNone) {
            throw fail("the view field is a \(heap.summary(items[5]))")
        }
        return heap.add(.storage(storage))
    }
}

extension PickleObject {
    var isNone: Bool { if case .none = self { return true } else { return false } }
}
