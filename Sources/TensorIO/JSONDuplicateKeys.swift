// Finds a key that appears twice in one JSON object, which json-c would silently collapse.
//
// A single pass over the text that only tracks strings, nesting and object keys; it trusts
// json-c for everything else (a malformed document is rejected there). Keys are compared
// after decoding their escapes, so "a" and "\u0061" are the same key; they are compared as
// UTF-8 bytes, not as Swift strings, whose equality would merge canonically equivalent keys
// ("é" precomposed and decomposed), which JSON and json-c treat as different.

enum JSONDuplicateKeys {
    static func firstDuplicate(in bytes: UnsafeRawBufferPointer) throws -> String? {
        // One set of keys per open container; arrays get nil.
        var stack: [Set<[UInt8]>?] = []
        var expectingKey = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                stack.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                stack.append(nil)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = stack.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                guard let (text, next) = decodeString(bytes, from: index) else { return nil }
                if expectingKey, let last = stack.indices.last, stack[last] != nil {
                    // Inserted in place: a copy of the set per key made large objects quadratic.
                    if stack[last]!.contains(text) { return String(decoding: text, as: UTF8.self) }
                    stack[last]!.insert(text)
                    expectingKey = false
                }
                index = next
                continue
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// Decodes the string starting at the quote at `start`; returns it and the index after
    /// the closing quote, or nil if the text is malformed (json-c will report it).
    private static func decodeString(_ bytes: UnsafeRawBufferPointer, from start: Int) -> ([UInt8], Int)? {
        var scalars: [UInt8] = []
        var index = start + 1
        var pendingHighSurrogate: UInt32?
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                return (scalars, index + 1)
            }
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count else { return nil }
                let escape = bytes[index + 1]
                index += 2
                var scalar: UInt32
                switch escape {
                case UInt8(ascii: "n"): scalar = 0x0A
                case UInt8(ascii: "t"): scalar = 0x09
                case UInt8(ascii: "r"): scalar = 0x0D
                case UInt8(ascii: "b"): scalar = 0x08
                case UInt8(ascii: "f"): scalar = 0x0C
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                          let value = UInt32(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<index + 4]), as: UTF8.self), radix: 16)
                    else { return nil }
                    index += 4
                    scalar = value
                default: scalar = UInt32(escape)
                }
                if (0xD800..<0xDC00).contains(scalar) { pendingHighSurrogate = scalar; continue }
                if (0xDC00..<0xE000).contains(scalar), let high = pendingHighSurrogate {
                    scalar = 0x10000 + ((high - 0xD800) << 10) + (scalar - 0xDC00)
                }
                pendingHighSurrogate = nil
                if let unicode = Unicode.Scalar(scalar) { scalars.append(contentsOf: Array(String(unicode).utf8)) }
                continue
            }
            scalars.append(byte)
            index += 1
        }
        return nil
    }
}
