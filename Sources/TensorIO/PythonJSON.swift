// JSON text exactly as Python's `json.dumps` writes it, for files Hugging Face tools write:
// transformers' `model.safetensors.index.json` (`json.dumps(index, indent=2, sort_keys=True)
// + "\n"`), PEFT's `adapter_config.json` (same call), configs.
//
// Python's defaults: ensure_ascii (everything outside 0x20...0x7E as \uxxxx, astral
// characters as a surrogate pair), `", "` and `": "` without indent, `","` + newline with it,
// `{}` and `[]` when empty whatever the indent, floats as `repr` (shortest round-trip digits,
// exponent form below 1e-4 and from 1e16, `1.0` keeps its `.0`), NaN/Infinity as bare words,
// keys sorted by code point when asked. json-c's pretty printer differs on all but the layout
// of non-empty containers, hence this writer.

public indirect enum PythonJSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([PythonJSONValue])
    case object([PythonJSONMember])

    /// The same document as parsed by JSON.parse (members keep their order).
    public init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case let .bool(b): self = .bool(b)
        case let .integer(i): self = .integer(Int(i))
        case let .largeUnsigned(u): self = .double(Double(u))
        case let .double(d): self = .double(d)
        case let .string(s): self = .string(s)
        case let .array(items): self = .array(items.map(PythonJSONValue.init))
        case let .object(members): self = .object(members.map { PythonJSONMember($0.key, PythonJSONValue($0.value)) })
        }
    }
}

public struct PythonJSONMember: Equatable, Sendable {
    public var key: String
    public var value: PythonJSONValue
    public init(_ key: String, _ value: PythonJSONValue) {
        self.key = key
        self.value = value
    }
}

public enum PythonJSON {
    /// `json.dumps(value, indent=indent, sort_keys=sortKeys)`; no trailing newline.
    public static func dumps(_ value: PythonJSONValue, indent: Int? = 2, sortKeys: Bool = true) -> String {
        var out: [UInt8] = []
        append(value, level: 0, indent: indent, sortKeys: sortKeys, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func append(_ value: PythonJSONValue, level: Int, indent: Int?, sortKeys: Bool, to out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case let .bool(b): out += Array((b ? "true" : "false").utf8)
        case let .integer(i): out += Array(String(i).utf8)
        case let .double(d): out += Array(floatRepr(d).utf8)
        case let .string(s): appendString(s, to: &out)
        case let .array(items):
            if items.isEmpty { out += Array("[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (position, item) in items.enumerated() {
                separator(first: position == 0, level: level + 1, indent: indent, to: &out)
                append(item, level: level + 1, indent: indent, sortKeys: sortKeys, to: &out)
            }
            close(level: level, indent: indent, to: &out)
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            if members.isEmpty { out += Array("{}".utf8); return }
            let ordered = sortKeys ? members.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } : members
            out.append(UInt8(ascii: "{"))
            for (position, member) in ordered.enumerated() {
                separator(first: position == 0, level: level + 1, indent: indent, to: &out)
                appendString(member.key, to: &out)
                out += [UInt8(ascii: ":"), 0x20]
                append(member.value, level: level + 1, indent: indent, sortKeys: sortKeys, to: &out)
            }
            close(level: level, indent: indent, to: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func separator(first: Bool, level: Int, indent: Int?, to out: inout [UInt8]) {
        if let indent {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(0x0A)
            out += [UInt8](repeating: 0x20, count: indent * level)
        } else if !first {
            out += [UInt8(ascii: ","), 0x20]
        }
    }

    private static func close(level: Int, indent: Int?, to out: inout [UInt8]) {
        guard let indent else { return }
        out.append(0x0A)
        out += [UInt8](repeating: 0x20, count: indent * level)
    }

    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case 0x5C: out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x20...0x7E: out.append(UInt8(scalar.value))
            default:
                for unit in String(scalar).utf16 { SerdeJSON.appendUnicodeEscape(unit, to: &out) }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Python's `repr(float)`: Swift's shortest round-trip digits, laid out by Python's rule
    /// (exponent form when the decimal point sits more than 16 places right of the first
    /// digit or more than 4 places left of it).
    public static func floatRepr(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        let sign = value.sign == .minus ? "-" : ""
        // Swift's description: shortest digits, as "123.45", "1e-05" or "1.5e+16".
        let text = "\(value.magnitude)"
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1])! : 0
        let mantissa = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(mantissa[0])
        let fractionPart = mantissa.count > 1 ? String(mantissa[1]) : ""
        var digits = Array(integerPart + fractionPart)
        // value = 0.d1d2... x 10^point
        var point = integerPart.count + exponent
        while let first = digits.first, first == "0" { digits.removeFirst(); point -= 1 }
        while let last = digits.last, last == "0" { digits.removeLast() }
        if digits.isEmpty { return sign + "0.0" }
        let body: String
        if point > 16 || point < -3 {
            let e = point - 1
            let lead = String(digits[0]) + (digits.count > 1 ? "." + String(digits[1...]) : "")
            let magnitude = String(abs(e))
            body = lead + "e" + (e < 0 ? "-" : "+") + (magnitude.count < 2 ? "0" + magnitude : magnitude)
        } else if point <= 0 {
            body = "0." + String(repeating: "0", count: -point) + String(digits)
        } else if point >= digits.count {
            body = String(digits) + String(repeating: "0", count: point - digits.count) + ".0"
        } else {
            body = String(digits[..<point]) + "." + String(digits[point...])
        }
        return sign + body
    }
}
