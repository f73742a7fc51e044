// Reading a zip archive's table of contents, checking it before anything is allocated or
// inflated. Layout (PKWARE APPNOTE, all integers little-endian):
//
//   [local header 30 B + name + extra][member data][data descriptor if flag bit 3] ...
//   [central directory: one 46 B entry + name + extra + comment per member]
//   [Zip64 end record 56 B + Zip64 locator 20 B, when counts/sizes/offsets overflow]
//   [end of central directory 22 B + comment]
//
// The central directory is the truth (as in CPython's zipfile); each local header must agree
// with it on name, method and, unless sizes follow in a data descriptor, CRC and sizes.
// Sizes or offsets of 0xFFFFFFFF (counts 0xFFFF) are in a Zip64 extra field (id 1), in the
// order uncompressed size, compressed size, offset, disk, each present only if its 32-bit
// field is the marker. Stricter than zipfile: duplicate names, absolute names and names
// with `..` are refused, and members may not overlap or run into the central directory.

struct ZipEntry {
    var name: String
    var nameBytes: [UInt8]
    var flags: UInt16
    var method: UInt16
    var crc32: UInt32
    var compressedSize: Int
    var uncompressedSize: Int
    var localHeaderOffset: Int
    /// First byte of the member's (possibly compressed) data, after the local header.
    var dataOffset: Int = 0

    var hasDataDescriptor: Bool { flags & 0x08 != 0 }
}

enum ZipDirectory {
    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let localSignature: UInt32 = 0x0403_4B50
    static let centralEntrySize = 46
    static let localHeaderSize = 30

    static func read(_ bytes: UnsafeRawBufferPointer, path: String) throws -> [ZipEntry] {
        let r = LittleEndianReader(bytes: bytes)
        let end = try findEnd(r, path: path)
        var entryCount = Int(r.u16(end + 10))
        var directorySize = Int(r.u32(end + 12))
        var directoryOffset = Int(r.u32(end + 16))
        var directoryLimit = end
        guard r.u16(end + 4) == 0, r.u16(end + 6) == 0, r.u16(end + 8) == r.u16(end + 10) else { throw ZipError.multiDisk(path: path) }

        // Zip64: a locator right before the end record points at the Zip64 end record.
        if end >= 20, r.u32(end - 20) == zip64LocatorSignature {
            let locator = end - 20
            guard r.u32(locator + 4) == 0, r.u32(locator + 16) <= 1 else { throw ZipError.multiDisk(path: path) }
            let record64 = r.u64(locator + 8)
            guard record64 <= UInt64(locator), Int(record64) + 56 <= locator else {
                throw ZipError.badZip64Record(path: path, reason: "offset \(record64) is not before the locator")
            }
            let at = Int(record64)
            guard r.u32(at) == zip64EndSignature else { throw ZipError.badZip64Record(path: path, reason: "bad signature") }
            guard r.u32(at + 16) == 0, r.u32(at + 20) == 0, r.u64(at + 24) == r.u64(at + 32) else { throw ZipError.multiDisk(path: path) }
            let count = r.u64(at + 32), size = r.u64(at + 40), offset = r.u64(at + 48)
            guard count <= UInt64(at), size <= UInt64(at), offset <= UInt64(at) else {
                throw ZipError.centralDirectoryPastEnd(path: path)
            }
            entryCount = Int(count)
            directorySize = Int(size)
            directoryOffset = Int(offset)
            directoryLimit = at
        }
        guard directoryOffset <= directoryLimit, directorySize <= directoryLimit - directoryOffset else {
            throw ZipError.centralDirectoryPastEnd(path: path)
        }
        // Checked before reserving anything: each entry takes at least 46 bytes.
        guard entryCount <= directorySize / centralEntrySize else { throw ZipError.tooManyEntries(path: path, count: entryCount) }

        var entries: [ZipEntry] = []
        entries.reserveCapacity(entryCount)
        var names = Set<String>()
        var position = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for index in 0..<entryCount {
            var entry = try centralEntry(r, at: &position, limit: directoryEnd, index: index, path: path)
            guard names.insert(entry.name).inserted else { throw ZipError.duplicateName(path: path, member: entry.name) }
            try checkLocalHeader(r, entry: &entry, dataLimit: directoryOffset, path: path)
            entries.append(entry)
        }
        try checkNoOverlap(entries, path: path)
        return entries
    }

    /// The end record is the last 22 bytes unless a comment follows it: search back at most
    /// 64 KiB (the longest comment) for a signature whose comment length fits the file.
    static func findEnd(_ r: LittleEndianReader, path: String) throws -> Int {
        let count = r.bytes.count
        guard count >= 22 else { throw ZipError.noEndOfCentralDirectory(path: path) }
        var sawSignature = false
        var position = count - 22
        let lowest = max(0, count - 22 - 0xFFFF)
        while position >= lowest {
            if r.u32(position) == endSignature {
                sawSignature = true
                if position + 22 + Int(r.u16(position + 20)) <= count { return position }
            }
            position -= 1
        }
        throw sawSignature ? ZipError.commentPastEnd(path: path) : ZipError.noEndOfCentralDirectory(path: path)
    }

    static func centralEntry(_ r: LittleEndianReader, at position: inout Int, limit: Int, index: Int, path: String) throws -> ZipEntry {
        let at = position
        guard limit - at >= centralEntrySize, r.u32(at) == centralSignature else {
            throw ZipError.badCentralEntry(path: path, index: index, reason: "missing central directory signature")
        }
        let nameLength = Int(r.u16(at + 28)), extraLength = Int(r.u16(at + 30)), commentLength = Int(r.u16(at + 32))
        guard centralEntrySize + nameLength + extraLength + commentLength <= limit - at else {
            throw ZipError.badCentralEntry(path: path, index: index, reason: "runs past the end of the central directory")
        }
        position = at + centralEntrySize + nameLength + extraLength + commentLength
        let flags = r.u16(at + 8)
        let nameBytes = Array(r.bytes[(at + 46)..<(at + 46 + nameLength)])
        let name = try decodeName(nameBytes, utf8: flags & 0x800 != 0, path: path, index: index)
        var sizes = Zip64Fields(uncompressed: UInt64(r.u32(at + 24)), compressed: UInt64(r.u32(at + 20)),
                                offset: UInt64(r.u32(at + 42)), disk: UInt32(r.u16(at + 34)))
        try sizes.resolve(extra: UnsafeRawBufferPointer(rebasing: r.bytes[(at + 46 + nameLength)..<(at + 46 + nameLength + extraLength)])) {
            ZipError.badCentralEntry(path: path, index: index, reason: "member '\(name)': \($0)")
        }
        guard sizes.disk == 0 else { throw ZipError.multiDisk(path: path) }
        if flags & 0x41 != 0 { throw ZipError.encrypted(path: path, member: name) }
        let method = r.u16(at + 10)
        guard method == 0 || method == 8 else { throw ZipError.unsupportedMethod(path: path, member: name, method: Int(method)) }
        let fileSize = UInt64(r.bytes.count)
        guard sizes.compressed <= fileSize, sizes.offset <= fileSize, sizes.uncompressed <= UInt64(Int.max) else {
            throw ZipError.memberPastEnd(path: path, member: name)
        }
        // Deflate expands at most 1032:1; a larger claim is a bomb or a lie, refused before
        // anything is allocated for it.
        if method == 8 && sizes.uncompressed > sizes.compressed * 1032 + 1024 {
            throw ZipError.implausibleSize(path: path, member: name, compressed: Int(sizes.compressed), uncompressed: Int(sizes.uncompressed))
        }
        if method == 0 && sizes.compressed != sizes.uncompressed {
            throw ZipError.badCentralEntry(path: path, index: index, reason: "stored member '\(name)' has different compressed and uncompressed sizes")
        }
        return ZipEntry(name: name, nameBytes: nameBytes, flags: flags, method: method, crc32: r.u32(at + 16),
                        compressedSize: Int(sizes.compressed), uncompressedSize: Int(sizes.uncompressed),
                        localHeaderOffset: Int(sizes.offset))
    }

    static func checkLocalHeader(_ r: LittleEndianReader, entry: inout ZipEntry, dataLimit: Int, path: String) throws {
        let at = entry.localHeaderOffset
        guard at <= dataLimit - localHeaderSize else { throw ZipError.memberPastEnd(path: path, member: entry.name) }
        guard r.u32(at) == localSignature else { throw ZipError.localHeaderMismatch(path: path, member: entry.name, field: "signature") }
        let nameLength = Int(r.u16(at + 26)), extraLength = Int(r.u16(at + 28))
        let dataOffset = at + localHeaderSize + nameLength + extraLength
        guard dataOffset <= dataLimit, entry.compressedSize <= dataLimit - dataOffset else {
            throw ZipError.memberPastEnd(path: path, member: entry.name)
        }
        guard r.bytes[(at + 30)..<(at + 30 + nameLength)].elementsEqual(entry.nameBytes) else {
            throw ZipError.localHeaderMismatch(path: path, member: entry.name, field: "name")
        }
        guard r.u16(at + 8) == entry.method else { throw ZipError.localHeaderMismatch(path: path, member: entry.name, field: "method") }
        if !entry.hasDataDescriptor {
            var sizes = Zip64Fields(uncompressed: UInt64(r.u32(at + 22)), compressed: UInt64(r.u32(at + 18)), offset: 0, disk: 0)
            try sizes.resolve(extra: UnsafeRawBufferPointer(rebasing: r.bytes[(at + 30 + nameLength)..<dataOffset])) {
                ZipError.localHeaderMismatch(path: path, member: entry.name, field: "extra field (\($0))")
            }
            guard sizes.compressed == UInt64(entry.compressedSize), sizes.uncompressed == UInt64(entry.uncompressedSize) else {
                throw ZipError.localHeaderMismatch(path: path, member: entry.name, field: "sizes")
            }
            guard r.u32(at + 14) == entry.crc32 else { throw ZipError.localHeaderMismatch(path: path, member: entry.name, field: "CRC-32") }
        }
        entry.dataOffset = dataOffset
    }

    static func checkNoOverlap(_ entries: [ZipEntry], path: String) throws {
        let ordered = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (first, second) in zip(ordered, ordered.dropFirst()) where first.dataOffset + first.compressedSize > second.localHeaderOffset {
            throw ZipError.overlappingMembers(path: path, member: first.name, other: second.name)
        }
    }

    static func decodeName(_ bytes: [UInt8], utf8: Bool, path: String, index: Int) throws -> String {
        let name: String
        if utf8 || bytes.allSatisfy({ $0 < 0x80 }) {
            guard let decoded = validUTF8(bytes) else {
                throw ZipError.badCentralEntry(path: path, index: index, reason: "name is flagged UTF-8 but is not valid UTF-8")
            }
            name = decoded
        } else {
            // Without flag bit 11 the name is code page 437, as zipfile decodes it.
            name = String(bytes.map { $0 < 0x80 ? Character(Unicode.Scalar($0)) : cp437High[Int($0 - 0x80)] })
        }
        guard !name.isEmpty, !name.contains("\0") else { throw ZipError.badName(path: path, member: name, reason: "empty or contains NUL") }
        let components = name.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "/" || $0 == "\\" })
        let driveLetter = name.count >= 2 && name.dropFirst().first == ":" && name.first!.isLetter
        if name.hasPrefix("/") || name.hasPrefix("\\") || driveLetter || components.contains("..") {
            throw ZipError.unsafeName(path: path, member: name)
        }
        return name
    }

    static let cp437High = Array("ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}")
}

/// The four values a Zip64 extra field can replace.
struct Zip64Fields {
    var uncompressed: UInt64
    var compressed: UInt64
    var offset: UInt64
    var disk: UInt32

    /// Replaces each marker value (0xFFFFFFFF, disk 0xFFFF) from the Zip64 extra, in order.
    mutating func resolve(extra: UnsafeRawBufferPointer, error: (String) -> ZipError) throws {
        let r = LittleEndianReader(bytes: extra)
        var at = 0
        while at < extra.count {
            guard extra.count - at >= 4 else { throw error("truncated extra field header") }
            let id = r.u16(at), size = Int(r.u16(at + 2))
            guard size <= extra.count - at - 4 else { throw error("extra field runs past its area") }
            if id == 1 {
                var field = at + 4
                let fieldEnd = field + size
                func next64() throws -> UInt64 {
                    guard fieldEnd - field >= 8 else { throw error("Zip64 extra field too short") }
                    defer { field += 8 }
                    return r.u64(field)
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try next64() }
                if compressed == 0xFFFF_FFFF { compressed = try next64() }
                if offset == 0xFFFF_FFFF { offset = try next64() }
                if disk == 0xFFFF {
                    guard fieldEnd - field >= 4 else { throw error("Zip64 extra field too short") }
                    disk = r.u32(field)
                }
            }
            at += 4 + size
        }
    }
}

/// The string, or nil if the bytes are not valid UTF-8 (decoding replaces bad sequences
/// with U+FFFD, so a round trip differs exactly when the input was invalid). Avoids
/// `String(validating:)`, which needs macOS 15.
func validUTF8<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
    let decoded = String(decoding: bytes, as: UTF8.self)
    return decoded.utf8.elementsEqual(bytes) ? decoded : nil
}

/// Unaligned little-endian loads; callers check bounds first.
struct LittleEndianReader {
    let bytes: UnsafeRawBufferPointer
    func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
