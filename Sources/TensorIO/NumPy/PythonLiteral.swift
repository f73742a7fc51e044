// The subset of Python literal syntax an .npy header uses, parsed the way `ast.literal_eval`
// reads it: dicts, tuples, lists, strings in single or double quotes, integers (with sign and
// `_` separators), floats (kept only to say "not an integer"), True, False, None; any
// whitespace and comments between tokens; trailing commas; `(3,)` is a tuple, `(3)` an int.
//
// It works on bytes: version 1.0/2.0 headers are latin-1, 3.0 utf-8; either way every
// character that matters to the syntax is ASCII, so strings are decoded only at the end.
// Nesting is capped so a hostile header cannot exhaust the stack.

indirect enum PythonLiteral: Equatable {
    case string(String)
    /// nil: the integer does not fit in 64 bits.
    case integer(Int?)
    case float
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(key: PythonLiteral, value: PythonLiteral)])

    static func == (a: PythonLiteral, b: PythonLiteral) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case (.float, .float), (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.tuple(x), .tuple(y)), let (.list(x), .list(y)): return x == y
        case let (.dict(x), .dict(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// Short Python-like spelling for error messages.
    var pythonDescription: String {
        switch self {
        case let .string(s): return "'\(s)'"
        case let .integer(i): return i.map(String.init) ?? "<huge int>"
        case .float: return "<float>"
        case let .bool(b): return b ? "True" : "False"
        case .none: return "None"
        case let .tuple(items): return "(" + items.map(\.pythonDescription).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case let .list(items): return "[" + items.map(\.pythonDescription).joined(separator: ", ") + "]"
        case let .dict(members): return "{" + members.map { "\($0.key.pythonDescription): \($0.value.pythonDescription)" }.joined(separator: ", ") + "}"
        }
    }

    struct SyntaxError: Error { let message: String }

    static let maxDepth = 32

    /// Parses one literal filling the whole text (surrounding whitespace allowed).
    static func parse(_ text: UnsafeRawBufferPointer, utf8: Bool) throws -> PythonLiteral {
        var parser = Parser(bytes: text, utf8: utf8)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.position == text.count else { throw SyntaxError(message: "unexpected text after the literal at byte \(parser.position)") }
        return value
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let utf8: Bool
        var position = 0

        init(bytes: UnsafeRawBufferPointer, utf8: Bool) {
            self.bytes = bytes
            self.utf8 = utf8
        }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let c = current {
                switch c {
                case 0x20, 0x09, 0x0A, 0x0D, 0x0C: position += 1
                case UInt8(ascii: "#"):
                    while let d = current, d != 0x0A, d != 0x0D { position += 1 }
                case UInt8(ascii: "\\") where position + 1 < bytes.count && bytes[position + 1] == 0x0A:
                    position += 2
                default: return
                }
            }
        }

        func fail(_ message: String) -> SyntaxError { SyntaxError(message: "\(message) at byte \(position)") }

        mutating func value(depth: Int) throws -> PythonLiteral {
            guard depth < PythonLiteral.maxDepth else { throw fail("nesting deeper than \(PythonLiteral.maxDepth)") }
            guard let c = current else { throw fail("unexpected end of header") }
            switch c {
            case UInt8(ascii: "{"):
                position += 1
                var members: [(key: PythonLiteral, value: PythonLiteral)] = []
                while true {
                    skipSpace()
                    if current == UInt8(ascii: "}") { position += 1; return .dict(members) }
                    let key = try value(depth: depth + 1)
                    skipSpace()
                    guard current == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    position += 1
                    skipSpace()
                    let item = try value(depth: depth + 1)
                    members.append((key, item))
                    skipSpace()
                    if current == UInt8(ascii: ",") { position += 1; continue }
                    guard current == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                }
            case UInt8(ascii: "("), UInt8(ascii: "["):
                let isTuple = c == UInt8(ascii: "(")
                let close = isTuple ? UInt8(ascii: ")") : UInt8(ascii: "]")
                position += 1
                var items: [PythonLiteral] = []
                var sawComma = false
                while true {
                    skipSpace()
                    if current == close {
                        position += 1
                        // `(x)` is just x in Python; `(x,)` and `()` are tuples.
                        if isTuple && items.count == 1 && !sawComma { return items[0] }
                        return isTuple ? .tuple(items) : .list(items)
                    }
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    if current == UInt8(ascii: ",") { position += 1; sawComma = true; continue }
                    guard current == close else { throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
                }
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                return .string(try string(quote: c))
            case UInt8(ascii: "-"), UInt8(ascii: "+"):
                position += 1
                skipSpace()
                let operand = try value(depth: depth + 1)
                switch operand {
                case let .integer(i):
                    if c == UInt8(ascii: "+") { return operand }
                    return .integer(i.flatMap { $0 == Int.min ? nil : -$0 })
                case .float: return .float
                default: throw fail("unary sign on a non-number")
                }
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."):
                return try number()
            default:
                if isNameStart(c) {
                    let start = position
                    while let d = current, isNameStart(d) || (d >= 0x30 && d <= 0x39) { position += 1 }
                    let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                    switch name {
                    case "True": return .bool(true)
                    case "False": return .bool(false)
                    case "None": return .none
                    default: throw SyntaxError(message: "name '\(name)' is not a literal at byte \(start)")
                    }
                }
                throw fail("unexpected character 0x\(String(c, radix: 16))")
            }
        }

        func isNameStart(_ c: UInt8) -> Bool {
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
        }

        mutating func string(quote: UInt8) throws -> String {
            position += 1
            if position + 1 < bytes.count, bytes[position] == quote, bytes[position + 1] == quote {
                throw fail("triple-quoted strings are not used in .npy headers")
            }
            var content: [UInt8] = []
            while true {
                guard let c = current else { throw fail("unterminated string") }
                position += 1
                if c == quote { break }
                if c == 0x0A || c == 0x0D { throw fail("newline inside a string") }
                if c == UInt8(ascii: "\\") {
                    guard let e = current else { throw fail("unterminated string") }
                    position += 1
                    switch e {
                    case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): content.append(e)
                    default: throw fail("unsupported escape '\\\(Character(Unicode.Scalar(e)))'")
                    }
                    continue
                }
                content.append(c)
            }
            if utf8 { return String(decoding: content, as: UTF8.self) }
            return String(String.UnicodeScalarView(content.map { Unicode.Scalar($0) }))
        }

        mutating func number() throws -> PythonLiteral {
            let start = position
            var digits: [UInt8] = []
            var isFloat = false
            while let c = current {
                if c >= 0x30 && c <= 0x39 { digits.append(c); position += 1 }
                else if c == UInt8(ascii: "_") {
                    // Python allows `_` only between digits.
                    guard !digits.isEmpty, position + 1 < bytes.count, bytes[position + 1] >= 0x30, bytes[position + 1] <= 0x39 else {
                        throw fail("misplaced '_' in a number")
                    }
                    position += 1
                }
                else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    isFloat = true
                    position += 1
                    if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")), let s = current, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { position += 1 }
                }
                else if c == UInt8(ascii: "x") || c == UInt8(ascii: "X") || c == UInt8(ascii: "o") || c == UInt8(ascii: "b") || c == UInt8(ascii: "j") || c == UInt8(ascii: "L") {
                    throw SyntaxError(message: "number form '\(Character(Unicode.Scalar(c)))' is not supported at byte \(start)")
                }
                else { break }
            }
            if isFloat { return .float }
            guard !digits.isEmpty else { throw fail("malformed number") }
            if digits.count > 1 && digits[0] == UInt8(ascii: "0") && digits.contains(where: { $0 != UInt8(ascii: "0") }) {
                throw SyntaxError(message: "leading zeros in a decimal integer at byte \(start)")
            }
            var value = 0
            for d in digits {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(d - 0x30))
                if o1 || o2 { return .integer(nil) }
                value = s
            }
            return .integer(value)
        }
    }
}
