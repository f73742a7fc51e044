// A strict JSON scanner for safetensors headers, with serde_json's rules where they matter.
//
// json-c (JSON.parse) saturates integers that overflow and reads "-0" as 0, so it cannot tell
// the reference's accepted numbers from its rejected ones. The header is parsed here instead:
// a `usize` field takes only plain digits that fit in 64 bits (serde reads "1.0", "1e0", "-0"
// and 2^64 as floats and rejects them); strings reject raw control characters and lone
// surrogates; nesting is limited to 128 like serde_json. The caller has already checked the
// bytes are UTF-8.

struct HeaderSyntaxError: Error {
    var reason: String
}

struct HeaderScanner {
    let bytes: UnsafeRawBufferPointer
    var position = 0
    /// serde_json's limit: the 128th nested container is refused.
    static let maxDepth = 128

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }

    func fail(_ reason: String) -> HeaderSyntaxError {
        HeaderSyntaxError(reason: "\(reason) at header byte \(position)")
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipWhitespace()
        guard peek() == byte else { throw fail("expected \(what)") }
        position += 1
    }

    /// After an element of an object or array: true if another follows, false at the close.
    mutating func continues(closing: UInt8) throws -> Bool {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            if peek() == closing { throw fail("trailing comma") }
            return true
        case closing:
            position += 1
            return false
        default:
            throw fail("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
        }
    }

    /// Consumes `{`; returns false if the object is empty (its `}` consumed too).
    mutating func beginObject() throws -> Bool {
        try expect(UInt8(ascii: "{"), "'{'")
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { position += 1; return false }
        return true
    }

    mutating func beginArray() throws -> Bool {
        try expect(UInt8(ascii: "["), "'['")
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { position += 1; return false }
        return true
    }

    /// A key and its colon.
    mutating func key() throws -> String {
        skipWhitespace()
        let key = try string()
        try expect(UInt8(ascii: ":"), "':'")
        return key
    }

    /// Reads `null` if it is next.
    mutating func null() -> Bool {
        skipWhitespace()
        guard position + 4 <= bytes.count, bytes[position] == UInt8(ascii: "n"), bytes[position + 1] == UInt8(ascii: "u"),
              bytes[position + 2] == UInt8(ascii: "l"), bytes[position + 3] == UInt8(ascii: "l") else { return false }
        position += 4
        return true
    }

    mutating func string() throws -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        position += 1
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { position += 1; break }
            if byte < 0x20 { throw fail("control character in a string") }
            if byte != UInt8(ascii: "\\") {
                utf8.append(byte)
                position += 1
                continue
            }
            guard position + 1 < bytes.count else { throw fail("unterminated string") }
            let escape = bytes[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xDC00..<0xE000).contains(scalar) { throw fail("lone trailing surrogate") }
                if (0xD800..<0xDC00).contains(scalar) {
                    guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                    else { throw fail("lone leading surrogate") }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("lone leading surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                throw fail("invalid escape")
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// A non-negative integer as serde reads a `usize`: digits only, at most UInt64.max.
    mutating func unsigned() throws -> UInt64 {
        skipWhitespace()
        let start = position
        let token = try number()
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard token == .integer, let value = UInt64(text) else {
            position = start
            throw fail("expected a non-negative integer, found \(text.prefix(40))")
        }
        return value
    }

    enum NumberKind { case integer, negativeOrFloat }

    /// Checks the JSON number grammar and consumes the token.
    private mutating func number() throws -> NumberKind {
        var kind = NumberKind.integer
        if peek() == UInt8(ascii: "-") { position += 1; kind = .negativeOrFloat }
        guard let first = peek(), isDigit(first) else { throw fail("invalid number") }
        position += 1
        if first != UInt8(ascii: "0") { while let d = peek(), isDigit(d) { position += 1 } }
        else if let d = peek(), isDigit(d) { throw fail("invalid number") }
        if peek() == UInt8(ascii: ".") {
            kind = .negativeOrFloat
            position += 1
            guard let d = peek(), isDigit(d) else { throw fail("invalid number") }
            while let d = peek(), isDigit(d) { position += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            kind = .negativeOrFloat
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard let d = peek(), isDigit(d) else { throw fail("invalid number") }
            while let d = peek(), isDigit(d) { position += 1 }
        }
        return kind
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Validates and discards any value (an unknown field serde ignores).
    /// `depth` counts the containers already open around the value.
    mutating func skipValue(depth: Int) throws {
        skipWhitespace()
        guard let byte = peek() else { throw fail("unexpected end of header") }
        if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "["), depth + 1 >= HeaderScanner.maxDepth {
            throw fail("recursion limit exceeded")
        }
        switch byte {
        case UInt8(ascii: "{"):
            guard try beginObject() else { return }
            repeat {
                _ = try key()
                try skipValue(depth: depth + 1)
            } while try continues(closing: UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            guard try beginArray() else { return }
            repeat { try skipValue(depth: depth + 1) } while try continues(closing: UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            _ = try number()
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("invalid literal") }
        for i in 0..<count where bytes[position + i] != word.utf8Start[i] { throw fail("invalid literal") }
        position += count
    }
}
