// Why loft will not write an output: each names the output path and the problem.

public enum OutputError: Error, CustomStringConvertible, Equatable {
    case emptyPath
    /// An output file is there and replacing it was not asked for.
    case fileExists(path: String)
    /// A directory that holds files, and replacing loft's files in it was not asked for.
    case directoryNotEmpty(path: String)
    case isADirectory(path: String)
    /// The output path, or a directory on the way to it, is something other than a directory.
    case notADirectory(path: String, blocking: String)
    case missingDirectory(path: String, directory: String)
    /// The output would be, contain, or sit inside an input.
    case overlapsInput(path: String, input: String, relation: Relation)

    public enum Relation: String, Sendable {
        case isInput = "is"
        case containsInput = "contains"
        case insideInput = "lies inside"
    }

    public var description: String {
        switch self {
        case .emptyPath:
            return "the output path is empty: give a file or directory"
        case let .fileExists(path):
            return "\(path): exists; pass --overwrite to replace it"
        case let .directoryNotEmpty(path):
            return "\(path): the directory is not empty; pass --overwrite to replace the files loft writes there (other files are kept)"
        case let .isADirectory(path):
            return "\(path): is a directory; give a file name"
        case let .notADirectory(path, blocking):
            return "\(path): \(blocking) exists and is not a directory"
        case let .missingDirectory(path, directory):
            return "\(path): the directory \(directory) does not exist"
        case let .overlapsInput(path, input, relation):
            switch relation {
            case .isInput:
                return path == input ? "\(path): refusing to overwrite the input" : "\(path): refusing to overwrite the input \(input)"
            case .containsInput:
                return "\(path): refusing to write there: the output directory contains the input \(input)"
            case .insideInput:
                return "\(path): refusing to write there: it lies inside the input \(input)"
            }
        }
    }
}
