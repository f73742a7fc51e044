// Everything that can be wrong with a training run's inputs, found before the first step.
// Each case names the file (and the tensor or option) and the problem.

import TensorIO

public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    /// A token file whose element type is not one of uint16, int32, int64.
    case wrongTokenDType(path: String, dtype: String)
    case tokenOutOfVocabulary(path: String, index: Int, id: Int64, vocabularySize: Int)
    /// Fewer tokens (or examples) than one window (or batch) needs.
    case tooShort(path: String, count: Int, needed: Int, what: String)
    case missingArray(path: String, name: String)
    case arrayShape(path: String, name: String, expected: String, found: [Int])
    case arrayDType(path: String, name: String, dtype: DType, expected: String)
    case noTokenizer(path: String, reason: String)
    case invalidOption(String)
    case invalidCheckpoint(path: String, reason: String)
    case invalidAdapter(path: String, reason: String)
    /// Both a base model and a config to initialise from: which one would the adapter be for?
    case baseAndInit(base: String, config: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "\(path): cannot read: \(reason)"
        case let .wrongTokenDType(path, dtype):
            return "\(path): token ids have dtype \(dtype); a token file must hold uint16, int32 or int64"
        case let .tokenOutOfVocabulary(path, index, id, vocabularySize):
            return "\(path): token \(index) has id \(id), outside the model's vocabulary 0..<\(vocabularySize)"
        case let .tooShort(path, count, needed, what):
            return "\(path): \(count) \(what), at least \(needed) needed"
        case let .missingArray(path, name): return "\(path): no array '\(name)'"
        case let .arrayShape(path, name, expected, found):
            return "\(path): array '\(name)' has shape \(found), expected \(expected)"
        case let .arrayDType(path, name, dtype, expected):
            return "\(path): array '\(name)' has dtype \(dtype.rawValue), expected \(expected)"
        case let .noTokenizer(path, reason):
            return "\(path) is a text file, so it needs a tokenizer: \(reason)"
        case let .invalidOption(message): return message
        case let .invalidCheckpoint(path, reason): return "\(path): cannot resume: \(reason)"
        case let .invalidAdapter(path, reason): return "\(path): \(reason)"
        case let .baseAndInit(base, config):
            return "give --base \(base) or --init \(config), not both: --init trains a random model, which the adapter would name \(base) as its base"
        }
    }
}
