// What a tensor output path means, for convert and merge alike, decided from the path alone:
//   *.safetensors          one safetensors file
//   *.npz                  a NumPy archive (stored, or deflated with compress)
//   *.npy                  a single tensor
//   *.index.json           a sharded checkpoint in the index's directory
//   a directory            a sharded checkpoint (an existing directory, a path ending in "/",
//                          or a last component without an extension)
// A maximum shard size asks for sharded output, so it needs a directory or index path.
// Any other extension is refused (never silently taken as a directory name). Where and how
// the files are written is the output policy's (OutputTarget).

import Glibc

public enum ConversionOutput: Equatable, Sendable {
    case safetensors(path: String)
    case sharded(directory: String, maxShardSize: Int)
    case npz(path: String, compress: Bool)
    case npy(path: String)

    /// `singleTensor: false` for a command that writes whole checkpoints (merge): .npy refused.
    public static func from(path: String, maxShardSize: Int? = nil, compress: Bool = false, singleTensor: Bool = true) throws -> ConversionOutput {
        let lower = path.lowercased()
        let kind: ConversionOutput
        if lower.hasSuffix(".safetensors") {
            kind = .safetensors(path: path)
        } else if lower.hasSuffix(".npz") {
            kind = .npz(path: path, compress: compress)
        } else if lower.hasSuffix(".npy") {
            guard singleTensor else {
                throw PipelineError.unsupportedOutput(path: path, reason: "a .npy file holds one tensor; write .safetensors, .npz or a directory")
            }
            kind = .npy(path: path)
        } else if lower.hasSuffix(".json") {
            let base = SystemPath.lastComponent(path)
            guard base == "model.safetensors.index.json" else {
                throw PipelineError.unsupportedOutput(path: path, reason: "a sharded checkpoint's index is named model.safetensors.index.json (or give its directory)")
            }
            kind = .sharded(directory: SystemPath.parent(path), maxShardSize: maxShardSize ?? ShardSize.defaultMaxShardSize)
        } else if PathStatus.isDirectory(path) || path.hasSuffix("/") || !SystemPath.lastComponent(path).contains(".") {
            kind = .sharded(directory: path, maxShardSize: maxShardSize ?? ShardSize.defaultMaxShardSize)
        } else {
            throw PipelineError.unsupportedOutput(path: path, reason: "unknown output format (expected .safetensors, .npz, \(singleTensor ? ".npy, " : "")a directory or model.safetensors.index.json)")
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

    /// The output policy for this path: a file, or a directory for a sharded checkpoint.
    public func target(overwrite: Bool, inputs: [String]) throws -> OutputTarget {
        switch self {
        case .sharded: return try OutputTarget(path, kind: .directory, overwrite: overwrite, inputs: inputs)
        default: return try OutputTarget(path, kind: .file, overwrite: overwrite, inputs: inputs)
        }
    }

    /// The weight files of a checkpoint directory (`model.safetensors`, the index, HF
    /// `model-NNNNN-of-NNNNN.safetensors` shards): what a sharded output replaces, so that an
    /// earlier checkpoint's index or shards do not linger beside the new one.
    public static func isCheckpointFileName(_ name: String) -> Bool {
        ShardedSafetensorsWriter.isCheckpointFileName(name)
    }

    public var isNumPy: Bool {
        switch self {
        case .npz, .npy: return true
        default: return false
        }
    }
}
