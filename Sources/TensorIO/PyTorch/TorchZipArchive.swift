// The zip container torch.save writes (PyTorch 1.6+). Every member sits under one top folder
// (the file's stem, or `archive/`):
//
//   ARCHIVE/data.pkl            the pickle (protocol 2); storages are persistent ids
//   ARCHIVE/data/<key>          each storage's raw bytes, stored (not deflated), 64-byte aligned
//   ARCHIVE/byteorder           "little" or "big" (absent in files from before 1.10: little)
//   ARCHIVE/version, .data/version, .format_version, .storage_alignment, .data/serialization_id
//
// The zip's table of contents is checked by ZipDirectory (bounds, overlaps, local headers,
// names); storages are then read in place from the mapping. data.pkl's CRC-32 is checked;
// storages' are not (that would read every byte at open; a storage is only bounds-checked).

enum TorchZipArchive {
    static func read(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TorchContainer {
        let entries = try ZipDirectory.read(bytes, path: path)
        // data.pkl at the top or in the one top folder.
        let pickles = entries.filter { entry in
            guard entry.name.hasSuffix("data.pkl") else { return false }
            let folder = entry.name.dropLast("data.pkl".count)
            return folder.isEmpty || (folder.hasSuffix("/") && !folder.dropLast().contains("/"))
        }
        guard let pickleEntry = pickles.first else {
            throw PyTorchError.container(path: path, reason: "a zip without data.pkl: not a torch.save checkpoint")
        }
        guard pickles.count == 1 else {
            throw PyTorchError.container(path: path, reason: "\(pickles.count) data.pkl members (\(pickles.map(\.name).joined(separator: ", "))): which one is the checkpoint is ambiguous")
        }
        let prefix = String(pickleEntry.name.dropLast("data.pkl".count))
        let pickle = try contents(of: pickleEntry, in: bytes, path: path, limit: 1 << 30)

        var bigEndian = false
        if let order = entries.first(where: { $0.name == prefix + "byteorder" }) {
            let text = String(decoding: try contents(of: order, in: bytes, path: path, limit: 64), as: UTF8.self)
            switch text {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default: throw PyTorchError.container(path: path, reason: "byteorder member says '\(text.prefix(20))', not little or big")
            }
        }

        var storages: [String: Range<Int>] = [:]
        for entry in entries where entry.name.hasPrefix(prefix + "data/") {
            let key = String(entry.name.dropFirst(prefix.count + 5))
            guard entry.method == 0 else {
                throw PyTorchError.storage(path: path, key: key, reason: "member \(entry.name) is deflated; torch.save stores storages uncompressed and loft reads them in place")
            }
            storages[key] = entry.dataOffset ..< entry.dataOffset + entry.compressedSize
        }

        let (heap, root) = try pickle.withUnsafeBytes { pickleBytes in
            let machine = PickleMachine(bytes: pickleBytes, path: "\(path): \(pickleEntry.name)", limits: .standard)
            let result = try machine.run { heap, id, offset in
                try TorchPersistentID.storage(heap, id, offset: offset, path: "\(path): \(pickleEntry.name)", legacy: false)
            }
            guard result.end == pickleBytes.count else {
                throw PickleError.malformed(path: "\(path): \(pickleEntry.name)", offset: result.end, reason: "\(pickleBytes.count - result.end) bytes after STOP")
            }
            return (result.heap, result.root)
        }
        return TorchContainer(heap: heap, root: root, storages: storages, bigEndian: bigEndian, format: "pytorch-zip")
    }

    /// A small member's bytes, inflated if needed, CRC-checked.
    static func contents(of entry: ZipEntry, in bytes: UnsafeRawBufferPointer, path: String, limit: Int) throws -> [UInt8] {
        guard entry.uncompressedSize <= limit else {
            throw PyTorchError.container(path: path, reason: "member \(entry.name) is \(entry.uncompressedSize) bytes, more than loft accepts (\(limit))")
        }
        let source = UnsafeRawBufferPointer(rebasing: bytes[entry.dataOffset..<(entry.dataOffset + entry.compressedSize)])
        var output: [UInt8]
        if entry.method == 0 {
            output = Array(source)
        } else {
            output = [UInt8](repeating: 0, count: entry.uncompressedSize)
            let inflater = try RawInflater(input: source, path: path, member: entry.name)
            try output.withUnsafeMutableBytes { try inflater.fill($0) }
            try inflater.expectEnd(limit: entry.uncompressedSize)
        }
        let crc = output.withUnsafeBytes { CRC32.checksum($0) }
        guard crc == entry.crc32 else { throw ZipError.crcMismatch(path: path, member: entry.name, expected: entry.crc32, actual: crc) }
        return output
    }
}
