// A stretch of UTF-8 text decoded once into Unicode scalars with the character classes the
// pre-tokenizer patterns ask about (\p{L}, \p{N}, \s), so the scanners never re-decode.

enum ScalarClass: UInt8 {
    case letter      // \p{L}: Lu Ll Lt Lm Lo
    case number      // \p{N}: Nd Nl No
    case whitespace  // \s: the White_Space property, as Oniguruma and Rust's regex define it
    case other
}

struct ScalarText {
    /// Byte offset of each scalar in the source bytes, plus one past the end.
    var offsets: [Int] = []
    var values: [UInt32] = []
    var classes: [ScalarClass] = []

    var count: Int { values.count }

    /// Decodes `bytes` (valid UTF-8: they come from a Swift String) from `base` onwards.
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>, base: Int = 0) {
        offsets.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            var value: UInt32
            var length: Int
            if lead < 0x80 {
                value = UInt32(lead)
                length = 1
            } else if lead < 0xE0 {
                value = UInt32(lead & 0x1F)
                length = 2
            } else if lead < 0xF0 {
                value = UInt32(lead & 0x0F)
                length = 3
            } else {
                value = UInt32(lead & 0x07)
                length = 4
            }
            for k in 1..<length { value = value << 6 | UInt32(bytes[index + k] & 0x3F) }
            offsets.append(base + index)
            values.append(value)
            classes.append(ScalarText.classify(value))
            index += length
        }
        offsets.append(base + count)
    }

    private static let asciiClasses: [ScalarClass] = (0..<128).map { (value: Int) -> ScalarClass in
        let byte = UInt8(value)
        if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) { return .letter }
        if byte >= 0x30 && byte <= 0x39 { return .number }
        if (byte >= 0x09 && byte <= 0x0D) || byte == 0x20 { return .whitespace }
        return .other
    }

    static func classify(_ value: UInt32) -> ScalarClass {
        if value < 128 { return asciiClasses[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return properties.isWhitespace ? .whitespace : .other
        }
    }

    /// Rust regex's \w, which decides whether an added token with `single_word` stands alone.
    static func isWordCharacter(_ value: UInt32) -> Bool {
        guard let scalar = Unicode.Scalar(value) else { return false }
        if value == 0x5F { return true }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
