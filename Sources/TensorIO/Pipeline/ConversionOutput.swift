// Where a conversion writes, decided from the output path alone:
//   *.safetensors          one safetensors file
//   *.npz                  a NumPy archive (stored, or deflated with compress)
//   *.npy                  a single tensor
//   *.index.json           a sharded checkpoint in the index's directory
//   a directory            a sharded checkpoint (an existing directory, a path ending in "/",
//                          or a last component without an extension)
// A maximum shard size asks for sharded output, so it needs a directory or index path.

import Glibc

public enum ConversionOutput: Equatable, Sendable {
    case safetensors(path: String)
    case sharded(directory: String, maxShardSize: Int)
    case npz(path: String, compress: Bool)
    case npy(path: String)

    public static func from(path: String, maxShardSize: Int? = nil, compress: Bool = false) throws -> ConversionOutput {
        let lower = path.lowercased()
        let kind: ConversionOutput
        if lower.hasSuffix(".safetensors") {
            kind = .safetensors(path: path)
        } else if lower.hasSuffix(".npz") {
            kind = .npz(path: path, compress: compress)
        } else if lower.hasSuffix(".npy") {
            kind = .npy(path: path)
        } else if lower.hasSuffix(".json") {
            let base = lastComponent(path)
            guard base == "model.safetensors.index.json" else {
                throw PipelineError.unsupportedOutput(path: path, reason: "a sharded checkpoint's index is named model.safetensors.index.json (or give its directory)")
            }
            kind = .sharded(directory: parentDirectory(path), maxShardSize: maxShardSize ?? ShardSize.defaultMaxShardSize)
        } else if isDirectory(path) || path.hasSuffix("/") || !lastComponent(path).contains(".") {
            kind = .sharded(directory: path, maxShardSize: maxShardSize ?? ShardSize.defaultMaxShardSize)
        } else {
            throw PipelineError.unsupportedOutput(path: path, reason: "unknown output format (expected .safetensors, .npz, .npy, a directory or model.safetensors.index.json)")
        }
        if maxShardSize != nil, case .sharded = kind {} else if maxShardSize != nil {
            throw PipelineError.unsupportedOutput(path: path, reason: "--max-shard-size writes a sharded checkpoint: give a directory (or .../model.safetensors.index.json)")
        }
        if compress, case .npz = kind {} else if compress {
            throw PipelineError.unsupportedOutput(path: path, reason: "--compress applies to .npz output only")
        }
        return kind
    }

    /// The file or directory the user will look at.
    public var path: String {
        switch self {
        case let .safetensors(path), let .npz(path, _), let .npy(path): return path
        case let .sharded(directory, _): return directory
        }
    }

    public var format: String {
        switch self {
        case .safetensors: return "safetensors"
        case .sharded: return "safetensors-sharded"
        case .npz: return "npz"
        case .npy: return "npy"
        }
    }

    public var isNumPy: Bool {
        switch self {
        case .npz, .npy: return true
        default: return false
        }
    }
}

func lastComponent(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
    return String(trimmed[trimmed.index(after: slash)...])
}

func parentDirectory(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
}

func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

func isDirectory(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
}
