// An open-addressing hash table keyed by byte strings, with the keys packed in one array.
// Used for the vocabulary (bytes -> id) and for the per-call cache of encoded words: a Swift
// Dictionary<[UInt8], _> would allocate an array for every lookup of a word.

struct ByteKeyTable {
    private var slots: [Int32]  // entry index, or -1 for empty; count is a power of two
    private var hashes: [UInt64] = []
    private var keyStarts: [Int] = [0]
    private var keyBytes: [UInt8] = []
    private(set) var values: [Int64] = []

    var count: Int { values.count }

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
    }

    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325  // FNV-1a, then a final mix for the low bits
        for byte in key { h = (h ^ UInt64(byte)) &* 0x100000001b3 }
        h ^= h >> 29
        h = h &* 0xbf58476d1ce4e5b9
        return h ^ (h >> 32)
    }

    /// The value stored for `key`, or nil.
    func value(for key: UnsafeBufferPointer<UInt8>) -> Int64? {
        let h = ByteKeyTable.hash(key)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = Int(slots[slot])
            if entry < 0 { return nil }
            if hashes[entry] == h && equals(entry, key) { return values[entry] }
            slot = (slot + 1) & mask
        }
    }

    func value(for key: [UInt8]) -> Int64? { key.withUnsafeBufferPointer { value(for: $0) } }

    /// Stores `value` for `key`, replacing an earlier value.
    mutating func set(_ key: UnsafeBufferPointer<UInt8>, _ value: Int64) {
        if (count + 1) * 2 > slots.count { grow() }
        let h = ByteKeyTable.hash(key)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = Int(slots[slot])
            if entry < 0 { break }
            if hashes[entry] == h && equals(entry, key) {
                values[entry] = value
                return
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = Int32(values.count)
        hashes.append(h)
        keyBytes.append(contentsOf: key)
        keyStarts.append(keyBytes.count)
        values.append(value)
    }

    mutating func set(_ key: [UInt8], _ value: Int64) { key.withUnsafeBufferPointer { set($0, value) } }

    mutating func removeAll() {
        for i in slots.indices { slots[i] = -1 }
        hashes.removeAll(keepingCapacity: true)
        keyStarts.removeAll(keepingCapacity: true)
        keyStarts.append(0)
        keyBytes.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    private func equals(_ entry: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = keyStarts[entry]
        guard keyStarts[entry + 1] - start == key.count else { return false }
        return keyBytes.withUnsafeBufferPointer { stored in
            for k in 0..<key.count where stored[start + k] != key[k] { return false }
            return true
        }
    }

    private mutating func grow() {
        var bigger = [Int32](repeating: -1, count: slots.count * 2)
        let mask = bigger.count - 1
        for entry in 0..<values.count {
            var slot = Int(truncatingIfNeeded: hashes[entry]) & mask
            while bigger[slot] >= 0 { slot = (slot + 1) & mask }
            bigger[slot] = Int32(entry)
        }
        slots = bigger
    }
}
