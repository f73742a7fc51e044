// GPT-2's byte-to-character map. Byte-level BPE vocabularies spell every byte as a printable
// character so that tokens are readable strings: the 188 printable Latin-1 bytes stand for
// themselves, the other 68 (controls, space, 0x7F-0xA0, 0xAD) become U+0100 onwards in byte
// order. Space is therefore "Ġ" (U+0120) and newline "Ċ" (U+010A).

enum ByteLevelAlphabet {
    /// The character standing for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte for each character of the alphabet, indexed by scalar value (all are below
    /// U+0144); -1 for characters outside it.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// The bytes a vocabulary entry stands for, or nil when it has a character outside the
    /// alphabet (an added token written as plain text).
    static func bytes(ofToken token: String) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            guard scalar.value < 0x144 else { return nil }
            let byte = byteForScalar[Int(scalar.value)]
            guard byte >= 0 else { return nil }
            result.append(UInt8(byte))
        }
        return result
    }

    /// A byte sequence spelled in the alphabet (how vocab.json writes it).
    static func token(forBytes bytes: [UInt8]) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(Unicode.Scalar(scalarForByte[Int(byte)])!) }
        return String(text)
    }
}
