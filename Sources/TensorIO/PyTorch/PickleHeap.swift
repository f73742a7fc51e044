// The objects a pickle builds, kept in one arena and referred to by index.
//
// Why an arena and not a tree of Swift values: a hostile pickle can append a list to itself
// (a cycle: reference counting would leak it) or nest a million tuples (releasing such a
// tree recurses a million frames deep and overflows the stack). Indices have neither
// problem: the arena is freed in one go, and every walk over it (StateDict.swift) carries
// an explicit depth limit and a visited set.

typealias PickleRef = Int

enum PickleObject {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer wider than 64 bits (LONG1/LONG4): only its size is kept.
    case bigInt(bytes: Int)
    case float(Double)
    case complex(Double, Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleRef])
    /// Index into PickleHeap.lists (mutable: APPEND after creation).
    case list(Int)
    /// Index into PickleHeap.dicts (mutable: SETITEM after creation).
    case dict(Int)
    /// An allowed global named but not (yet) called: a class, a function, a storage type.
    case global(PickleGlobal)
    case dtype(TorchDType)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRecord)
}

/// A dict in insertion order; keys compared as Python would for the hashable types a
/// checkpoint uses (str, int, bool, float, None, tuples of those).
struct PickleDictStore {
    var keys: [PickleRef] = []
    var values: [PickleRef] = []
    var index: [String: Int] = [:]
}

final class PickleHeap {
    private(set) var objects: [PickleObject] = []
    var lists: [[PickleRef]] = []
    var dicts: [PickleDictStore] = []

    func add(_ object: PickleObject) -> PickleRef {
        objects.append(object)
        return objects.count - 1
    }

    subscript(ref: PickleRef) -> PickleObject { objects[ref] }

    func newList(_ items: [PickleRef] = []) -> PickleRef {
        lists.append(items)
        return add(.list(lists.count - 1))
    }

    func newDict() -> PickleRef {
        dicts.append(PickleDictStore())
        return add(.dict(dicts.count - 1))
    }

    /// The key's identity as Python hashes it, or nil when the key is unhashable (a list or
    /// dict) or nested too deep to be a real key.
    func hashKey(_ ref: PickleRef, depth: Int = 0) -> String? {
        guard depth < 16 else { return nil }
        switch objects[ref] {
        case .none: return "N"
        case let .bool(value): return "i\(value ? 1 : 0)"  // True == 1 in Python
        case let .int(value): return "i\(value)"
        case let .float(value): return value == value.rounded() && abs(value) < 1e18 ? "i\(Int64(value))" : "f\(value)"
        case let .string(value): return "s" + value
        case let .bytes(value): return "b" + value.map { String($0) }.joined(separator: ",")
        case let .tuple(items):
            var parts: [String] = []
            for item in items {
                guard let part = hashKey(item, depth: depth + 1) else { return nil }
                parts.append(part)
            }
            return "t(" + parts.joined(separator: "|") + ")"
        case let .global(global): return "g" + global.qualifiedName
        case let .dtype(dtype): return "d" + dtype.name
        default: return nil
        }
    }

    func setItem(dict: Int, key: PickleRef, value: PickleRef, hashKey: String) {
        if let position = dicts[dict].index[hashKey] {
            dicts[dict].values[position] = value
        } else {
            dicts[dict].index[hashKey] = dicts[dict].keys.count
            dicts[dict].keys.append(key)
            dicts[dict].values.append(value)
        }
    }

    /// A dict's entries in order.
    func entries(of dict: Int) -> [(key: PickleRef, value: PickleRef)] {
        Array(zip(dicts[dict].keys, dicts[dict].values)).map { (key: $0.0, value: $0.1) }
    }

    /// The value for a string key, if the object is a dict holding it.
    func value(in ref: PickleRef, forKey key: String) -> PickleRef? {
        guard case let .dict(index) = objects[ref], let position = dicts[index].index["s" + key] else { return nil }
        return dicts[index].values[position]
    }

    /// A short description of a non-tensor value for listings: `int 3`, `str 'adam'`,
    /// `dict (4 entries)`, `list (2 items)`.
    func summary(_ ref: PickleRef) -> String {
        switch objects[ref] {
        case .none: return "None"
        case let .bool(value): return value ? "True" : "False"
        case let .int(value): return "int \(value)"
        case let .bigInt(bytes): return "int (\(bytes * 8)-bit)"
        case let .float(value): return "float \(value)"
        case let .complex(real, imaginary): return "complex (\(real), \(imaginary))"
        case let .string(value):
            let shown = value.count > 60 ? String(value.prefix(57)) + "..." : value
            return "str '\(shown)'"
        case let .bytes(value): return "bytes (\(value.count))"
        case let .tuple(items): return "tuple (\(items.count) \(items.count == 1 ? "item" : "items"))"
        case let .list(index): return "list (\(lists[index].count) \(lists[index].count == 1 ? "item" : "items"))"
        case let .dict(index): return "dict (\(dicts[index].keys.count) \(dicts[index].keys.count == 1 ? "entry" : "entries"))"
        case let .global(global): return global.qualifiedName
        case let .dtype(dtype): return "torch.\(dtype.name)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }

    /// A dict key as a name component: strings as they are, integers in decimal (optimizer
    /// state is keyed by parameter number); nil for other key types.
    func keyName(_ ref: PickleRef) -> String? {
        switch objects[ref] {
        case let .string(value): return value
        case let .int(value): return String(value)
        case let .bool(value): return value ? "True" : "False"
        default: return nil
        }
    }
}
