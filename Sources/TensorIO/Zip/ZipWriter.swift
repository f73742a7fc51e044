// A streaming zip writer: one member at a time, each written once, front to back, into an
// AtomicOutputFile; only the local header's CRC and sizes are patched afterwards.
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

    /// Writes one member; `body` streams its uncompressed bytes through the sink.
    func addMember(name: String, deflate: Bool, level: Int32, _ body: (MemberSink) throws -> Void) throws {
        guard names.insert(name).inserted else { throw ZipError.duplicateName(path: path, member: name) }
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= 0xFFFF else { throw ZipError.badName(path: path, member: name, reason: "longer than 65535 bytes") }
        let flags: UInt16 = nameBytes.allSatisfy { $0 < 0x80 } ? 0 : 0x800
        let method: UInt16 = deflate ? 8 : 0
        let headerOffset = file.offset

        var local = ByteWriter()
        local.u32(ZipDirectory.localSignature)
        local.u16(45)  // version needed: Zip64
        local.u16(flags)
        local.u16(method)
        local.u16(0)
        local.u16(ZipWriter.dosDate)
        local.u32(0)  // CRC-32, patched
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
        let zip64Extra = local.bytes.count
        local.u16(1)
        local.u16(16)
        local.u64(0)  // sizes, patched
        local.u64(0)
        if !deflate {
            local.u16(0x4C46)
            local.u16(UInt16(padding))
            local.bytes += [UInt8](repeating: 0, count: padding)
        }
        try file.write(local.bytes)

        let sink = try MemberSink(file: file, deflate: deflate, level: level, member: name)
        try body(sink)
        try sink.finish()

        var patch = ByteWriter()
        patch.u64(UInt64(sink.uncompressedSize))
        patch.u64(UInt64(sink.compressedSize))
        try file.write(patch.bytes, at: headerOffset + zip64Extra + 4)
        var crc = ByteWriter()
        crc.u32(sink.crc)
        try file.write(crc.bytes, at: headerOffset + 14)

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

/// Receives a member's uncompressed bytes, keeps the CRC and sizes, and writes them stored
/// or deflated (raw deflate, streamed through a fixed output buffer).
final class MemberSink {
    private let file: AtomicOutputFile
    private let member: String
    private var stream: UnsafeMutablePointer<z_stream>?
    private var output: [UInt8]
    private(set) var crc: UInt32 = 0
    private(set) var uncompressedSize = 0
    private(set) var compressedSize = 0

    init(file: AtomicOutputFile, deflate: Bool, level: Int32, member: String) throws {
        self.file = file
        self.member = member
        output = deflate ? [UInt8](repeating: 0, count: 1 << 20) : []
        if deflate {
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = deflateInit2_(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            guard status == Z_OK else {
                stream.deallocate()
                throw FileError.writeFailed(path: file.path, reason: "member '\(member)': deflateInit2 failed (\(status))")
            }
            self.stream = stream
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        crc = CRC32.checksum(bytes, continuing: crc)
        uncompressedSize += bytes.count
        guard stream != nil else {
            try file.write(bytes)
            compressedSize += bytes.count
            return
        }
        // zlib takes 32-bit lengths: feed big tensors in slices.
        var offset = 0
        while offset < bytes.count {
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + (1 << 30))])
            try deflate(slice, flush: Z_NO_FLUSH)
            offset += slice.count
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func finish() throws {
        guard stream != nil else { return }
        try deflate(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
    }

    private func deflate(_ input: UnsafeRawBufferPointer, flush: Int32) throws {
        guard let stream else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while true {
            let status = try output.withUnsafeMutableBytes { out -> Int32 in
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(out.count)
                let status = CZlib.deflate(stream, flush)
                let produced = out.count - Int(stream.pointee.avail_out)
                if produced > 0 { try file.write(UnsafeRawBufferPointer(rebasing: out[..<produced])) }
                compressedSize += produced
                return status
            }
            if status == Z_STREAM_END { return }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                throw FileError.writeFailed(path: file.path, reason: "member '\(member)': deflate failed (\(status))")
            }
            if flush != Z_FINISH && stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 { return }
        }
    }

    deinit {
        if let stream {
            deflateEnd(stream)
            stream.deallocate()
        }
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16)) }
    mutating func u64(_ v: UInt64) { u32(UInt32(v & 0xFFFF_FFFF)); u32(UInt32(v >> 32)) }
}
