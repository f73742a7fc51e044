// Which container a path is, and its reader. A file is recognised from its first bytes:
//
//   safetensors        u64 header length, then "{"              SafetensorsReader
//   npy                "\x93NUMPY"                              NpyReader
//   PyTorch zip        "PK\x03\x04" with an `ARCHIVE/data.pkl` member   PyTorchReader
//   npz                "PK\x03\x04" / "PK\x05\x06", other members       NpzReader
//   legacy PyTorch     pickle protocol 2 ("\x80\x02"), then the magic
//                      number 0x1950a86a20f9469cfc6c              PyTorchReader
//   other pickle       "\x80\x02"                                (no reader yet)
//   GGUF               "GGUF"                                    GGUFReader
//   HDF5 (Keras .h5)   "\x89HDF\r\n\x1a\n"                       (no reader yet)
//   sharded index      "{" (JSON)                                ShardedSafetensorsReader
//
// The extension only matters when the bytes are not enough (a truncated file) or disagree
// with it: then the extension's reader runs and, if it fails, the message says what the
// bytes are (a .npy renamed to .safetensors otherwise reports an absurd header length).
//
// A directory is a checkpoint when it holds one of `layouts` (an index with its shards, or
// one file), tried in order; otherwise the error lists what it does hold.
//
// A new container is one entry in `formats`; a new sharded layout one entry in `layouts`.

import Glibc

public struct TensorFormat: Sendable {
    /// Short id ("safetensors", "pytorch-zip").
    public let name: String
    /// What the file is, for messages ("a PyTorch zip checkpoint").
    public let description: String
    /// Lower-case extensions with the dot.
    public let extensions: [String]
    /// Whether the file's first bytes are this format's.
    let recognizes: @Sendable (FileHead) -> Bool
    /// nil: recognised, but loft has no reader for it yet.
    let open: (@Sendable (String) throws -> TensorReader)?
    /// For containers that hold more than a state dict (PyTorch checkpoints): opens with the
    /// entry to read (`--key`).
    var openKeyed: (@Sendable (String, String) throws -> TensorReader)? = nil

    public var isReadable: Bool { open != nil }
}

/// A sharded checkpoint's file names: the index and, without one, the single file.
public struct CheckpointLayout: Sendable {
    public let index: String
    public let single: String
}

public enum TensorFile {
    static let pytorchExtensions = [".bin", ".pt", ".pth", ".ckpt"]
    /// Pickle protocol 2, then the long 0x1950a86a20f9469cfc6c (LONG1, 10 bytes little-endian).
    static let legacyTorchMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    public static let formats: [TensorFormat] = [
        TensorFormat(name: "safetensors", description: "a safetensors file", extensions: [".safetensors"],
                     recognizes: { $0.count >= 9 && $0.bytes[8] == UInt8(ascii: "{") }, open: { try SafetensorsReader(path: $0) }),
        TensorFormat(name: "npy", description: "a .npy file", extensions: [".npy"],
                     recognizes: { $0.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) }, open: { try NpyReader(path: $0) }),
        TensorFormat(name: "pytorch-zip", description: "a PyTorch zip checkpoint (torch.save)", extensions: pytorchExtensions,
                     recognizes: { $0.isZip && $0.zipMemberNames.contains { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") } },
                     open: { try PyTorchReader(path: $0) }, openKeyed: { try PyTorchReader(path: $0, key: $1) }),
        TensorFormat(name: "npz", description: "a .npz (zip) archive", extensions: [".npz"],
                     recognizes: { head in
                         // An unreadable directory is NpzReader's to report in detail.
                         head.isZip && (head.path.lowercased().hasSuffix(".npz") || head.zipMemberNames.isEmpty
                             || head.zipMemberNames.contains { $0.hasSuffix(".npy") })
                     }, open: { try NpzReader(path: $0) }),
        TensorFormat(name: "zip", description: "a zip archive that is not an .npz (no .npy members)", extensions: [".zip"],
                     recognizes: { $0.isZip }, open: nil),
        TensorFormat(name: "pytorch-legacy", description: "a legacy PyTorch checkpoint (pickle, torch.save before 1.6)", extensions: pytorchExtensions,
                     recognizes: { $0.starts(with: legacyTorchMagic) },
                     open: { try PyTorchReader(path: $0) }, openKeyed: { try PyTorchReader(path: $0, key: $1) }),
        TensorFormat(name: "pickle", description: "a Python pickle (protocol 2, as legacy PyTorch checkpoints are)", extensions: pytorchExtensions + [".pkl"],
                     recognizes: { $0.starts(with: [0x80, 0x02]) }, open: nil),
        TensorFormat(name: "gguf", description: "a GGUF file", extensions: [".gguf"],
                     recognizes: { $0.starts(with: GGUFHeader.magic) }, open: { try GGUFReader(path: $0) }),
        TensorFormat(name: "hdf5", description: "an HDF5 file (Keras/TensorFlow .h5)", extensions: [".h5", ".hdf5", ".keras"],
                     recognizes: { $0.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) }, open: nil),
        TensorFormat(name: "index", description: "a JSON file", extensions: [".json"],
                     recognizes: { $0.firstNonSpace == UInt8(ascii: "{") }, open: { try ShardedSafetensorsReader(path: $0) },
                     openKeyed: { try ShardedSafetensorsReader(path: $0, key: $1) }),
    ]

    /// In order of preference (Hugging Face's: safetensors before PyTorch).
    public static let layouts = [
        CheckpointLayout(index: "model.safetensors.index.json", single: "model.safetensors"),
        CheckpointLayout(index: "pytorch_model.bin.index.json", single: "pytorch_model.bin"),
    ]

    public static let indexName = layouts[0].index
    public static let singleName = layouts[0].single

    /// "safetensors, npy, npz" for messages.
    static var readableFormats: String {
        formats.filter { $0.isReadable && $0.name != "index" }.flatMap(\.extensions).joined(separator: ", ")
    }

    static func hasWeightExtension(_ name: String) -> Bool {
        let lower = name.lowercased()
        return formats.contains { $0.name != "index" && $0.extensions.contains(where: lower.hasSuffix) }
            || lower.hasSuffix(".index.json") || lower.hasSuffix(".msgpack") || lower.hasSuffix(".onnx")
    }

    /// The tensors at `path`: a file of any readable format, a sharded index, or a directory
    /// holding one of `layouts`.
    /// `key` (`--key`) names the entry of a PyTorch checkpoint that holds the state dict;
    /// other formats refuse it.
    public static func open(_ path: String, key: String? = nil) throws -> TensorReader {
        var status = stat()
        guard stat(SystemPath.cString(path), &status) == 0 else {
            throw FileError.cannotOpen(path: path, reason: systemErrorMessage())
        }
        if (status.st_mode & S_IFMT) == S_IFDIR { return try open(directory: path, key: key) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw FileError.notARegularFile(path: path) }
        let head = try FileHead(path: path)
        let lower = path.lowercased()
        let named = formats.first { $0.extensions.contains(where: lower.hasSuffix) }
        let sniffed = formats.first { $0.recognizes(head) }
        // .bin, .pt, ... name all kinds of files (a safetensors saved as model.bin): a readable
        // format recognised from the bytes wins over them.
        let genericName = pytorchExtensions.contains(where: lower.hasSuffix) && sniffed?.isReadable == true
        if let sniffed, named == nil || genericName || sniffed.extensions.contains(where: lower.hasSuffix) || !(named!.isReadable) {
            guard let open = sniffed.open else { throw FileError.unsupportedFormat(path: path, contents: sniffed.description) }
            return try opening(sniffed, path, key: key, default: open)
        }
        guard let named, let open = named.open else { throw FileError.unknownFormat(path: path) }
        do {
            return try opening(named, path, key: key, default: open)
        } catch {
            guard let sniffed else { throw error }
            guard sniffed.isReadable else { throw FileError.unsupportedFormat(path: path, contents: sniffed.description) }
            throw FileError.misnamed(path: path, contents: sniffed.description, reason: "\(error)".replacingPrefix(path + ": "))
        }
    }

    /// The name of the format a regular file's first bytes say it is ("gguf", "safetensors",
    /// ...; TensorFile.formats), nil for a directory, an unreadable or unrecognised file.
    public static func sniffedFormat(_ path: String) -> String? {
        guard PathStatus.isRegularFile(path), let head = try? FileHead(path: path) else { return nil }
        return formats.first { $0.recognizes(head) }?.name
    }

    /// Whether `--key` means something for this path (a PyTorch checkpoint, or a directory
    /// or index that may hold PyTorch shards): diff applies one `--key` to whichever side
    /// is a checkpoint.
    public static func acceptsKey(_ path: String) -> Bool {
        guard let status = PathStatus(path) else { return true }
        if status.isDirectory {
            // The layout the directory would open: safetensors first (TensorFile.layouts).
            return !PathStatus.isRegularFile(SystemPath.join(path, layouts[0].index)) && !PathStatus.isRegularFile(SystemPath.join(path, layouts[0].single))
        }
        if SystemPath.lastComponent(path) == layouts[0].index { return false }
        guard status.isRegularFile, let head = try? FileHead(path: path) else { return true }
        return formats.first { $0.recognizes(head) }?.openKeyed != nil
    }

    private static func opening(_ format: TensorFormat, _ path: String, key: String?,
                                default open: (String) throws -> TensorReader) throws -> TensorReader {
        guard let key else { return try open(path) }
        guard let keyed = format.openKeyed else { throw FileError.keyNotApplicable(path: path, contents: format.description) }
        return try keyed(path, key)
    }

    /// The first layout the directory holds: its index (shards read through `open`), else
    /// its single file.
    static func open(directory: String, key: String? = nil) throws -> TensorReader {
        for layout in layouts {
            let index = SystemPath.join(directory, layout.index)
            if PathStatus.isRegularFile(index) { return try ShardedSafetensorsReader(path: index, key: key) }
            let single = SystemPath.join(directory, layout.single)
            if PathStatus.isRegularFile(single) { return try open(single, key: key) }
        }
        throw noCheckpoint(directory)
    }

    static func noCheckpoint(_ directory: String) -> FileError {
        var holds: [String] = []
        for name in SystemPath.list(directory) ?? [] where !name.hasPrefix(".") { holds.append(SystemPath.display(name)) }
        return FileError.noCheckpoint(path: directory, lookedFor: layouts.flatMap { [$0.index, $0.single] }, holds: holds.sorted())
    }
}

/// The first bytes of a file, and for a zip the names of its members (read only when a
/// format asks).
final class FileHead: @unchecked Sendable {
    let path: String
    let bytes: [UInt8]
    var count: Int { bytes.count }

    init(path: String) throws {
        self.path = path
        let fd = Glibc.open(SystemPath.cString(path), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 16)
        let count = head.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 16) }
        bytes = Array(head.prefix(max(count, 0)))
    }

    func starts(with prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }

    var isZip: Bool { starts(with: [0x50, 0x4B, 0x03, 0x04]) || starts(with: [0x50, 0x4B, 0x05, 0x06]) }

    var firstNonSpace: UInt8? { bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } }

    /// Empty when the central directory cannot be read (the zip reader then says why).
    lazy var zipMemberNames: [String] = {
        guard let file = try? MappedFile(path: path) else { return [] }
        return withExtendedLifetime(file) { ((try? ZipDirectory.read(file.bytes, path: path)) ?? []).map(\.name) }
    }()
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
