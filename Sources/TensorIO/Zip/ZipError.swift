// Everything that can be wrong with a zip archive's structure or a member's bytes. Each case
// names the archive and, when there is one, the member.

public enum ZipError: Error, CustomStringConvertible, Equatable {
    case noEndOfCentralDirectory(path: String)
    case commentPastEnd(path: String)
    case multiDisk(path: String)
    case badZip64Record(path: String, reason: String)
    case centralDirectoryPastEnd(path: String)
    case tooManyEntries(path: String, count: Int)
    case badCentralEntry(path: String, index: Int, reason: String)
    case encrypted(path: String, member: String)
    case unsupportedMethod(path: String, member: String, method: Int)
    case unsafeName(path: String, member: String)
    case badName(path: String, member: String, reason: String)
    case duplicateName(path: String, member: String)
    case memberPastEnd(path: String, member: String)
    case overlappingMembers(path: String, member: String, other: String)
    case localHeaderMismatch(path: String, member: String, field: String)
    case crcMismatch(path: String, member: String, expected: UInt32, actual: UInt32)
    case corruptDeflate(path: String, member: String, reason: String)
    case inflatesPastDeclaredSize(path: String, member: String, limit: Int)
    case inflatesShort(path: String, member: String, expected: Int, got: Int)
    case implausibleSize(path: String, member: String, compressed: Int, uncompressed: Int)
    case sizeMismatch(path: String, member: String, zipSize: Int, npySize: Int)

    public var description: String {
        switch self {
        case let .noEndOfCentralDirectory(path):
            return "\(path): not a zip archive (no end-of-central-directory record)"
        case let .commentPastEnd(path):
            return "\(path): zip comment length runs past the end of the file"
        case let .multiDisk(path):
            return "\(path): multi-disk (spanned) zip archives are not supported"
        case let .badZip64Record(path, reason):
            return "\(path): bad Zip64 end record: \(reason)"
        case let .centralDirectoryPastEnd(path):
            return "\(path): the central directory lies outside the file"
        case let .tooManyEntries(path, count):
            return "\(path): \(count) entries cannot fit in the central directory"
        case let .badCentralEntry(path, index, reason):
            return "\(path): central directory entry \(index): \(reason)"
        case let .encrypted(path, member):
            return "\(path): member '\(member)' is encrypted"
        case let .unsupportedMethod(path, member, method):
            return "\(path): member '\(member)' uses compression method \(method) (only 0 stored and 8 deflated)"
        case let .unsafeName(path, member):
            return "\(path): member name '\(member)' is absolute or contains '..'"
        case let .badName(path, member, reason):
            return "\(path): member name '\(member)': \(reason)"
        case let .duplicateName(path, member):
            return "\(path): member name '\(member)' appears twice"
        case let .memberPastEnd(path, member):
            return "\(path): member '\(member)' runs past the end of its region of the file"
        case let .overlappingMembers(path, member, other):
            return "\(path): members '\(member)' and '\(other)' overlap"
        case let .localHeaderMismatch(path, member, field):
            return "\(path): member '\(member)': local header disagrees with the central directory on \(field)"
        case let .crcMismatch(path, member, expected, actual):
            return "\(path): member '\(member)': CRC-32 mismatch (expected \(hex(expected)), computed \(hex(actual)))"
        case let .corruptDeflate(path, member, reason):
            return "\(path): member '\(member)': corrupt deflate data: \(reason)"
        case let .inflatesPastDeclaredSize(path, member, limit):
            return "\(path): member '\(member)' inflates past its declared \(limit) bytes (zip bomb?); refused"
        case let .inflatesShort(path, member, expected, got):
            return "\(path): member '\(member)': deflate data ends after \(got) of \(expected) bytes"
        case let .implausibleSize(path, member, compressed, uncompressed):
            return "\(path): member '\(member)' claims \(uncompressed) bytes from \(compressed) deflated bytes, more than deflate can expand (zip bomb?); refused"
        case let .sizeMismatch(path, member, zipSize, npySize):
            return "\(path): member '\(member)' is \(zipSize) bytes but its .npy header implies \(npySize)"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
