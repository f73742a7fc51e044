// JSON text exactly as the two reference writers produce it.
//
// SerdeJSON: serde_json::to_string (safetensors headers): UTF-8 kept as is; `"` `\` escaped;
// \b \f \n \r \t; other bytes below 0x20 as \u00xx (lowercase); `/` and 0x7F unescaped.
// json-c writes the same strings except that object keys are C strings, so a name holding a
// NUL byte would be cut short there; writing the header here avoids that.
//
// PythonJSON: `json.dumps(value, indent=2, sort_keys=True)` (transformers' index files):
// ensure_ascii, so everything outside 0x20...0x7E is \uxxxx (astral characters as a surrogate
// pair); keys sorted by code point; "key": value; an empty object is `{}`.

enum SerdeJSON {
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: appendUnicodeEscape(UInt16(byte), to: &out)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendUnicodeEscape(_ unit: UInt16, to out: inout [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        out += [UInt8(ascii: "\\"), UInt8(ascii: "u")]
        for shift in stride(from: 12, through: 0, by: -4) { out.append(digits[Int(unit >> UInt16(shift)) & 0xF]) }
    }
}

/// The subset of JSON values the index file holds.
indirect enum PythonJSONValue {
    case integer(Int)
    case string(String)
    case object([(key: String, value: PythonJSONValue)])
}

enum PythonJSON {
    /// `json.dumps(value, indent=2, sort_keys=True)`.
    static func dumps(_ value: PythonJSONValue) -> String {
        var out: [UInt8] = []
        append(value, indent: 0, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func append(_ value: PythonJSONValue, indent: Int, to out: inout [UInt8]) {
        switch value {
        case let .integer(i): out += Array(String(i).utf8)
        case let .string(s): appendString(s, to: &out)
        case let .object(members):
            if members.isEmpty { out += Array("{}".utf8); return }
            let sorted = members.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
            out.append(UInt8(ascii: "{"))
            for (position, member) in sorted.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
                out += [UInt8](repeating: 0x20, count: 2 * (indent + 1))
                appendString(member.key, to: &out)
                out += [UInt8(ascii: ":"), 0x20]
                append(member.value, indent: indent + 1, to: &out)
            }
            out.append(0x0A)
            out += [UInt8](repeating: 0x20, count: 2 * indent)
            out.append(UInt8(ascii: "}"))
        }
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
}
