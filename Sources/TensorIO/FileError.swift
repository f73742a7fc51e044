// Errors about files as files (not their format): each names the path and what failed.

public enum FileError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notARegularFile(path: String)
    case writeFailed(path: String, reason: String)
    case unknownFormat(path: String)
    case wouldOverwriteInput(path: String)
    /// The extension names one format but the first bytes are another's (a renamed file).
    case misnamed(path: String, contents: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .notARegularFile(path): return "\(path): not a regular file"
        case let .writeFailed(path, reason): return "\(path): write failed: \(reason)"
        case let .unknownFormat(path):
            return "\(path): unknown format (expected .safetensors, .npy, .npz, a sharded index .json or a checkpoint directory)"
        case let .wouldOverwriteInput(path): return "\(path): refusing to overwrite the input"
        case let .misnamed(path, contents, reason):
            return "\(path): \(reason); its first bytes are those of \(contents), not of what its extension says (rename it)"
        }
    }
}
