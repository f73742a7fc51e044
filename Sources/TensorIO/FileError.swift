// Errors about files as files (not their format): each names the path and what failed.

public enum FileError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notARegularFile(path: String)
    case writeFailed(path: String, reason: String)
    case unknownFormat(path: String)
    case wouldOverwriteInput(path: String)
    /// The extension names one format but the first bytes are another's (a renamed file).
    case misnamed(path: String, contents: String, reason: String)
    /// A format loft recognises from its bytes but has no reader for (yet).
    case unsupportedFormat(path: String, contents: String)
    /// A directory that holds no checkpoint: what was looked for, and what it holds instead.
    case noCheckpoint(path: String, lookedFor: [String], holds: [String])
    case invalidJSON(path: String, reason: String)
    /// `--key` given for a file that is a single state dict already.
    case keyNotApplicable(path: String, contents: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .notARegularFile(path): return "\(path): not a regular file"
        case let .writeFailed(path, reason): return "\(path): write failed: \(reason)"
        case let .unknownFormat(path):
            return "\(path): unknown format (loft reads \(TensorFile.readableFormats), a sharded index .json or a checkpoint directory)"
        case let .unsupportedFormat(path, contents): return "\(path): \(contents); loft cannot read this format yet"
        case let .noCheckpoint(path, lookedFor, holds):
            let weights = holds.filter(TensorFile.hasWeightExtension)
            let listed = holds.count <= 8 ? holds.joined(separator: ", ") : holds.prefix(8).joined(separator: ", ") + " and \(holds.count - 8) more"
            if holds.isEmpty { return "\(path): no weights: the directory is empty" }
            if weights.isEmpty { return "\(path): no weights: holds only \(listed)" }
            return "\(path): no checkpoint: none of \(lookedFor.joined(separator: ", ")); it holds \(listed) (give a weights file itself)"
        case let .invalidJSON(path, reason): return "\(path): invalid JSON: \(reason)"
        case let .keyNotApplicable(path, contents): return "\(path): --key selects an entry of a PyTorch checkpoint; this is \(contents)"
        case let .wouldOverwriteInput(path): return "\(path): refusing to overwrite the input"
        case let .misnamed(path, contents, reason):
            return "\(path): \(reason); its first bytes are those of \(contents), not of what its extension says (rename it)"
        }
    }
}
