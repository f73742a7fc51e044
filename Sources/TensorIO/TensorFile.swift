// Opening any tensor file by its path: the reader is picked from the extension, or for a
// directory from what it holds, or failing both from the first bytes (the magic):
//   .safetensors / 8-byte length then "{"      SafetensorsReader
//   .npy / "\x93NUMPY"                         NpyReader
//   .npz / "PK\x03\x04", "PK\x05\x06"          NpzReader
//   .json / "{"                                ShardedSafetensorsReader (the index)
//   a directory with model.safetensors.index.json (sharded) or model.safetensors (single)

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TensorFile {
    public static let indexName = "model.safetensors.index.json"
    public static let singleName = "model.safetensors"

    public static func open(_ path: String) throws -> TensorReader {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw FileError.cannotOpen(path: path, reason: systemErrorMessage())
        }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            // Its error names both file names it looked for.
            return try ShardedSafetensorsReader.open(directory: path)
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".safetensors") { return try checkingMagic(path, .safetensors) { try SafetensorsReader(path: path) } }
        if lower.hasSuffix(".npy") { return try checkingMagic(path, .npy) { try NpyReader(path: path) } }
        if lower.hasSuffix(".npz") { return try checkingMagic(path, .npz) { try NpzReader(path: path) } }
        if lower.hasSuffix(".json") { return try ShardedSafetensorsReader(path: path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw FileError.notARegularFile(path: path) }
        switch try sniff(path) {
        case .safetensors: return try SafetensorsReader(path: path)
        case .npy: return try NpyReader(path: path)
        case .npz: return try NpzReader(path: path)
        case .index: return try ShardedSafetensorsReader(path: path)
        case nil: throw FileError.unknownFormat(path: path)
        }
    }

    private enum Magic: String { case safetensors = "a safetensors file", npy = "a .npy file", npz = "a .npz (zip) archive", index = "a JSON file" }

    /// A reader picked by extension failed: if the first bytes belong to another format, say
    /// so (a .npy renamed to .safetensors otherwise reports an absurd header length).
    private static func checkingMagic(_ path: String, _ expected: Magic, _ open: () throws -> TensorReader) throws -> TensorReader {
        do {
            return try open()
        } catch {
            if let found = try? sniff(path), found != expected {
                throw FileError.misnamed(path: path, contents: found.rawValue, reason: "\(error)".replacingPrefix(path + ": "))
            }
            throw error
        }
    }

    private static func sniff(_ path: String) throws -> Magic? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 16)
        let count = head.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 16) }
        guard count > 0 else { return nil }
        let bytes = head.prefix(count)
        if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return .npy }
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .npz }
        if let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }), first == UInt8(ascii: "{") {
            return .index
        }
        if count >= 9, head[8] == UInt8(ascii: "{") { return .safetensors }
        return nil
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
