// A streaming zip writer: one member at a time, each written once, front to back, into an
// AtomicOutputFile; only a deflated member's compressed size is patched afterwards.
//
// Every local header carries a Zip64 extra field (id 1, both sizes), as Python's zipfile
// writes them for np.savez (`force_zip64=True`), so a member of any size needs no data
// descriptor. The central directory uses 32-bit fields where the values fit and Zip64
// extras where they don't; the Zip64 end record and locator are written only when the
// entry count, directory size or offset overflow the classic end record. Timestamps are
// 1980-01-01 00:00 (the DOS epoch) so the output is deterministic. Stored members are
// padded (an extra field, id 0x4C46, ignored by readers) so their data starts at a multiple
// of 64 and can be used in place by a mapping reader.

import CZlib

final class ZipWriter {
    let file: AtomicOutputFile
    private var central: [UInt8] = []
    private var count = 0
    private var names = Set<String>()
    static let dosDate: UInt16 = 0x0021  // 1980-01-01
    static let dataAlignment = 64

    init(path: String) throws {
        file = try AtomicOutputFile(path: path)
    }

    var path: String { file.path }

    /// Writes one member whose uncompressed bytes are the concatenation of `parts`; `owner`
    /// keeps them alive (a part that is a view of its file mapping is copied by the kernel
    /// when stored, and its pages, read for the CRC, are released once written).
    func addMember(name: String, parts: [UnsafeRawBufferPointer], owner: AnyObject? = nil, deflate: Bool, level: Int32) throws {
        guard names.insert(name).inserted else { throw ZipError.duplicateName(path: path, member: name) }
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= 0xFFFF else { throw ZipError.badName(path: path, member: name, reason: "longer than 65535 bytes") }
        let flags: UInt16 = nameBytes.allSatisfy { $0 < 0x80 } ? 0 : 0x800
        let method: UInt16 = deflate ? 8 : 0
        let headerOffset = file.offset
        // The bytes are all in memory, so CRC and size go into the local header up front;
        // only a deflated member's compressed size is patched in afterwards.
        var crc: UInt32 = 0
        for part in parts { crc = CRC32.checksum(part, continuing: crc) }
        let uncompressedSize = parts.reduce(0) { $0 + $1.count }

        var local = ByteWriter()
        local.u32(ZipDirectory.localSignature)
        local.u16(45)  // version needed: Zip64
        local.u16(flags)
        local.u16(method)
        local.u16(0)
        local.u16(ZipWriter.dosDate)
        local.u32(crc)
        local.u32(0xFFFF_FFFF)
        local.u32(0xFFFF_FFFF)
        local.u16(UInt16(nameBytes.count))
        var padding = 0
        if !deflate {
            let unpadded = headerOffset + 30 + nameBytes.count + 20 + 4
            padding = (ZipWriter.dataAlignment - unpadded % ZipWriter.dataAlignment) % ZipWriter.dataAlignment
        }
        local.u16(UInt16(20 + (deflate ? 0 : 4 + padding)))
        local.bytes += nameBytes
        let compressedSizeField = local.bytes.count + 12
        local.u16(1)
        local.u16(16)
        local.u64(UInt64(uncompressedSize))
        local.u64(UInt64(uncompressedSize))  // compressed size: final when stored, patched when deflated
        if !deflate {
            local.u16(0x4C46)
            local.u16(UInt16(padding))
            local.bytes += [UInt8](repeating: 0, count: padding)
        }

        let compressedSize: Int
        if deflate {
            try file.write(local.bytes)
            compressedSize = try ParallelDeflate.compress(parts, level: level, path: path, member: name) { try file.write($0) }
            var patch = ByteWriter()
            patch.u64(UInt64(compressedSize))
            try file.write(patch.bytes, at: headerOffset + compressedSizeField)
        } else {
            // Small parts (the .npy header) ride along with the local header: one write.
            var pending = local.bytes
            for part in parts {
                if part.count <= 4096 { pending += part; continue }
                try file.write(pending)
                pending = []
                try file.write(part, from: owner)
            }
            try file.write(pending)
            compressedSize = uncompressedSize
        }
        if let mapped = owner as? MappedFile {
            for part in parts { if let start = mapped.offset(of: part) { mapped.release(offset: start, count: part.count) } }
        }
        let sink = (crc: crc, uncompressedSize: uncompressedSize, compressedSize: compressedSize)

        let needs64 = (sink.uncompressedSize >= 0xFFFF_FFFF, sink.compressedSize >= 0xFFFF_FFFF, headerOffset >= 0xFFFF_FFFF)
        var extra = ByteWriter()
        if needs64.0 { extra.u64(UInt64(sink.uncompressedSize)) }
        if needs64.1 { extra.u64(UInt64(sink.compressedSize)) }
        if needs64.2 { extra.u64(UInt64(headerOffset)) }
        var entry = ByteWriter()
        entry.u32(ZipDirectory.centralSignature)
        entry.u16(0x032D)  // made by: Unix, spec 4.5
        entry.u16(45)
        entry.u16(flags)
        entry.u16(method)
        entry.u16(0)
        entry.u16(ZipWriter.dosDate)
        entry.u32(sink.crc)
        entry.u32(needs64.1 ? 0xFFFF_FFFF : UInt32(sink.compressedSize))
        entry.u32(needs64.0 ? 0xFFFF_FFFF : UInt32(sink.uncompressedSize))
        entry.u16(UInt16(nameBytes.count))
        entry.u16(extra.bytes.isEmpty ? 0 : UInt16(4 + extra.bytes.count))
        entry.u16(0)  // comment
        entry.u16(0)  // disk
        entry.u16(0)  // internal attributes
        entry.u32(0o100644 << 16)  // regular file, rw-r--r--
        entry.u32(needs64.2 ? 0xFFFF_FFFF : UInt32(headerOffset))
        entry.bytes += nameBytes
        if !extra.bytes.isEmpty {
            entry.u16(1)
            entry.u16(UInt16(extra.bytes.count))
            entry.bytes += extra.bytes
        }
        central += entry.bytes
        count += 1
    }

    /// Writes the central directory and end records, then renames the file into place.
    func finish() throws {
        let directoryOffset = file.offset
        try file.write(central)
        let directorySize = central.count
        var end = ByteWriter()
        if count >= 0xFFFF || directorySize >= 0xFFFF_FFFF || directoryOffset >= 0xFFFF_FFFF {
            let record64 = file.offset
            end.u32(ZipDirectory.zip64EndSignature)
            end.u64(44)
            end.u16(0x032D)
            end.u16(45)
            end.u32(0)
            end.u32(0)
            end.u64(UInt64(count))
            end.u64(UInt64(count))
            end.u64(UInt64(directorySize))
            end.u64(UInt64(directoryOffset))
            end.u32(ZipDirectory.zip64LocatorSignature)
            end.u32(0)
            end.u64(UInt64(record64))
            end.u32(1)
        }
        end.u32(ZipDirectory.endSignature)
        end.u16(0)
        end.u16(0)
        end.u16(UInt16(min(count, 0xFFFF)))
        end.u16(UInt16(min(count, 0xFFFF)))
        end.u32(UInt32(min(directorySize, 0xFFFF_FFFF)))
        end.u32(UInt32(min(directoryOffset, 0xFFFF_FFFF)))
        end.u16(0)
        try file.write(end.bytes)
        try file.commit()
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16)) }
    mutating func u64(_ v: UInt64) { u32(UInt32(v & 0xFFFF_FFFF)); u32(UInt32(v >> 32)) }
}
