// Where the weights are in what a checkpoint pickled, and their names.
//
//   - `--key K`: the dict under K (an exact top-level key, else a dotted path of keys);
//   - else the top level, when it holds tensors itself (a plain `torch.save(state_dict)`);
//   - else the first of `state_dict`, `model`, `module` that holds tensors, looked for again
//     inside it (Lightning's `state_dict`, training scripts' `model`, DeepSpeed's `module`);
//   - else the top level.
// Nested dicts are flattened with dots (`{"encoder": {"w": t}}` is `encoder.w`). Entries
// that are not tensors (step counters, configs, optimizer lists) are kept as a list for
// `inspect` and skipped by `convert`. Walks are depth-limited and never revisit a dict, so
// a cyclic or absurdly deep pickle cannot hang or overflow the stack.

struct TorchStateDict {
    var tensors: [(name: String, record: TorchTensorRecord)] = []
    var others: [(name: String, value: String)] = []
    var notes: [String] = []

    static let wrapperKeys = ["state_dict", "model", "module"]
    static let maxDepth = 64
    /// A state dict never holds one dict at two places (memo references could: 40 levels of
    /// dicts each holding the one below twice would name 2^40 entries): such a dict, or a
    /// cycle, is refused, and the total is bounded besides.
    static let maxEntries = 1 << 22
    static let maxNameBytes = 1 << 16

    static func select(_ heap: PickleHeap, root: PickleRef, key: String?, path: String) throws -> TorchStateDict {
        var chosen = root
        var notes: [String] = []
        if let key {
            guard let found = lookup(heap, root, key) else {
                throw PyTorchError.badKey(path: path, key: key, reason: "no such entry; the top level holds \(topKeys(heap, root))")
            }
            guard case .dict = heap[found] else { throw PyTorchError.badKey(path: path, key: key, reason: "it is a \(heap.summary(found)), not a dict of tensors") }
            chosen = found
            notes.append("state dict under '\(key)' (--key)")
        } else {
            guard case .dict = heap[root] else {
                throw PyTorchError.noStateDict(path: path, reason: "the checkpoint holds a \(heap.summary(root)), not a dict of tensors")
            }
            var trail: [String] = []
            // Descend through wrappers while the current dict holds no tensors itself.
            while !holdsTensorsDirectly(heap, chosen), trail.count < 4,
                  let next = wrapperKeys.lazy.compactMap({ name in heap.value(in: chosen, forKey: name).map { (name, $0) } })
                      .first(where: { containsTensors(heap, $0.1) }) {
                trail.append(next.0)
                chosen = next.1
            }
            if !trail.isEmpty {
                let others = topKeys(heap, root, excluding: trail[0])
                notes.append("state dict under '\(trail.joined(separator: "."))'" + (others.isEmpty ? "" : "; also at the top level: \(others) (choose with --key)"))
            }
        }
        var result = TorchStateDict()
        result.notes = notes
        var seen = Set<String>()
        var walked = Set<Int>()
        try result.flatten(heap, chosen, prefix: "", depth: 0, walked: &walked, seen: &seen, path: path)
        guard !result.tensors.isEmpty else {
            throw PyTorchError.noStateDict(path: path, reason: "no tensors found" + (key == nil ? " (the top level holds \(topKeys(heap, root)))" : " under '\(key!)'"))
        }
        return result
    }

    private mutating func flatten(_ heap: PickleHeap, _ dict: PickleRef, prefix: String, depth: Int, walked: inout Set<Int>,
                                  seen: inout Set<String>, path: String) throws {
        guard case let .dict(index) = heap[dict] else { return }
        guard walked.insert(index).inserted else {
            throw PyTorchError.noStateDict(path: path, reason: "the dict at '\(prefix)' also appears elsewhere in the state dict (shared or cyclic)")
        }
        for (keyRef, value) in heap.entries(of: index) {
            let component = heap.keyName(keyRef) ?? "<\(heap.summary(keyRef))>"
            let name = prefix.isEmpty ? component : prefix + "." + component
            guard tensors.count + others.count < TorchStateDict.maxEntries else {
                throw PyTorchError.noStateDict(path: path, reason: "more than \(TorchStateDict.maxEntries) state dict entries (shared nested dicts?)")
            }
            guard name.utf8.count <= TorchStateDict.maxNameBytes else {
                throw PyTorchError.noStateDict(path: path, reason: "an entry name longer than \(TorchStateDict.maxNameBytes) bytes")
            }
            switch heap[value] {
            case let .tensor(record):
                guard heap.keyName(keyRef) != nil else {
                    throw PyTorchError.noStateDict(path: path, reason: "a tensor is stored under a non-string key (\(heap.summary(keyRef)))")
                }
                guard seen.insert(name).inserted else { throw PyTorchError.tensor(path: path, tensor: name, reason: "two entries flatten to this name") }
                tensors.append((name, record))
            case let .dict(inner) where depth < TorchStateDict.maxDepth:
                if heap.dicts[inner].keys.isEmpty {
                    others.append((name, "dict (empty)"))
                } else {
                    try flatten(heap, value, prefix: name, depth: depth + 1, walked: &walked, seen: &seen, path: path)
                }
            default:
                others.append((name, heap.summary(value)))
            }
        }
    }

    /// `key` as one top-level key, else as a dotted path through dicts.
    static func lookup(_ heap: PickleHeap, _ root: PickleRef, _ key: String) -> PickleRef? {
        if let direct = heap.value(in: root, forKey: key) { return direct }
        var current = root
        for part in key.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = heap.value(in: current, forKey: String(part)) else { return nil }
            current = next
        }
        return current
    }

    static func holdsTensorsDirectly(_ heap: PickleHeap, _ ref: PickleRef) -> Bool {
        guard case let .dict(index) = heap[ref] else { return false }
        return heap.dicts[index].values.contains { if case .tensor = heap[$0] { return true } else { return false } }
    }

    /// Whether a tensor is reachable through dicts (bounded walk).
    static func containsTensors(_ heap: PickleHeap, _ ref: PickleRef) -> Bool {
        var pending = [(ref, 0)]
        var visited = Set<Int>()
        while let (current, depth) = pending.popLast() {
            switch heap[current] {
            case .tensor: return true
            case let .dict(index) where depth < maxDepth && visited.insert(index).inserted:
                pending += heap.dicts[index].values.map { ($0, depth + 1) }
            default: break
            }
        }
        return false
    }

    static func topKeys(_ heap: PickleHeap, _ root: PickleRef, excluding: String? = nil) -> String {
        guard case let .dict(index) = heap[root] else { return "a \(heap.summary(root))" }
        let names = heap.dicts[index].keys.map { heap.keyName($0) ?? heap.summary($0) }.filter { $0 != excluding }
        if names.isEmpty { return excluding == nil ? "nothing" : "" }
        return names.count <= 8 ? names.joined(separator: ", ") : names.prefix(8).joined(separator: ", ") + " and \(names.count - 8) more"
    }
}
