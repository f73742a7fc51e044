// A tensor name as the format identifies it: its UTF-8 bytes. Swift's String equality is
// canonical equivalence ("é" == "e\u{301}"), which would merge two distinct tensors; hashing
// the bytes in one call is also several times faster than hashing a [UInt8] element-wise.

struct TensorNameKey: Hashable {
    let utf8: [UInt8]

    init(_ name: String) { utf8 = Array(name.utf8) }

    static func == (left: TensorNameKey, right: TensorNameKey) -> Bool { left.utf8 == right.utf8 }

    func hash(into hasher: inout Hasher) {
        utf8.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
