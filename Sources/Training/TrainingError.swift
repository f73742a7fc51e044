// Everything that can be wrong with a training run's inputs, found before the first step.
// Each case names the file (and the tensor or setting) and the problem. Settings are named by
// `TrainingSetting`, not by a command-line flag: the command line renders the same messages
// with its own flag names (`message(naming:)`), the library's description with plain words.

import TensorIO

/// A knob of training, evaluation or generation, as the library knows it.
public enum TrainingSetting: String, Sendable, CaseIterable {
    case base, initConfig, evalData, evalFraction, output
    case method, rank, loraAlpha, targets, steps, epochs, batch, sequence, learningRate, warmupSteps, schedule
    case weightDecay, eps, clip, evalInterval, seed
    case maxTokens, temperature, topK, tokenizer
    case baseDType, baseCompute

    /// Plain words, for messages outside a command line.
    public var name: String {
        switch self {
        case .initConfig: return "initial config"
        case .evalData: return "evaluation data"
        case .evalFraction: return "evaluation fraction"
        case .loraAlpha: return "lora_alpha"
        case .sequence: return "sequence length"
        case .learningRate: return "learning rate"
        case .warmupSteps: return "warmup steps"
        case .weightDecay: return "weight decay"
        case .clip: return "gradient clipping threshold"
        case .evalInterval: return "evaluation interval"
        case .maxTokens: return "maximum tokens"
        case .topK: return "top-k"
        case .baseDType: return "base dtype"
        case .baseCompute: return "base compute"
        default: return rawValue
        }
    }
}

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
    /// A class label outside 0...Int32.max.
    case classOutOfRange(path: String, id: Int64)
    case noTokenizer(path: String, reason: String)
    case invalidCheckpoint(path: String, reason: String)
    case invalidAdapter(path: String, reason: String)
    /// Both a base model and a config to initialise from: which one would the adapter be for?
    case baseAndInit(base: String, config: String)
    /// A file that is none of the model kinds training knows.
    case unrecognizedModel(path: String)

    /// A setting out of its range: `requirement` completes "SETTING must be ...".
    case invalidSetting(TrainingSetting, value: String, requirement: String)
    /// Two settings that exclude each other.
    case conflictingSettings(TrainingSetting, TrainingSetting)
    /// One of two settings is needed (`alternative` may be nil).
    case missingSetting(TrainingSetting, alternative: TrainingSetting?)
    case rankTooLarge(rank: Int, module: String, inFeatures: Int, outFeatures: Int)
    case sequenceTooLong(sequence: Int, context: Int)
    case emptyPrompt
    /// The run's activations, adapters and optimizer state would not fit in the memory left.
    case memoryExceeded(needed: Double, available: Double)
    /// The loss of a step is NaN or infinite: the run cannot go on.
    case lossNotFinite(step: Int, loss: Float)

    /// Whether the error is about the settings given (a usage error), not about a file's
    /// contents or the run itself.
    public var isUsage: Bool {
        switch self {
        case .invalidSetting, .conflictingSettings, .missingSetting, .rankTooLarge, .sequenceTooLong, .emptyPrompt, .memoryExceeded, .baseAndInit:
            return true
        default:
            return false
        }
    }

    public var description: String { message(naming: \.name) }

    /// The message, with settings named by `name` (a command line passes its flag names).
    public func message(naming name: (TrainingSetting) -> String) -> String {
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
        case let .classOutOfRange(path, id): return "\(path): class id \(id) in 'y' is negative or too large"
        case let .noTokenizer(path, reason):
            return "\(path) is a text file, so it needs a tokenizer: \(reason)"
        case let .invalidCheckpoint(path, reason): return "\(path): cannot resume: \(reason)"
        case let .invalidAdapter(path, reason): return "\(path): \(reason)"
        case let .baseAndInit(base, config):
            return "give \(name(.base)) \(base) or \(name(.initConfig)) \(config), not both: a random model would be trained under an adapter naming \(base) as its base"
        case let .unrecognizedModel(path):
            return "\(path): neither a GPT-2 checkpoint (no wte.weight), a LLaMA checkpoint (model.embed_tokens.weight) nor an MLP (tensors named layers.N.weight)"
        case let .invalidSetting(setting, value, requirement): return "\(name(setting)) must be \(requirement) (got \(value))"
        case let .conflictingSettings(first, second): return "give \(name(first)) or \(name(second)), not both"
        case let .missingSetting(setting, alternative):
            return "give \(name(setting))" + (alternative.map { " (or \(name($0)))" } ?? "")
        case let .rankTooLarge(rank, module, inFeatures, outFeatures):
            return "\(name(.rank)) \(rank) is larger than module \(module) (\(inFeatures) in, \(outFeatures) out): give at most \(min(inFeatures, outFeatures))"
        case let .sequenceTooLong(sequence, context):
            return "\(name(.sequence)) \(sequence) is longer than the model's context of \(context) positions"
        case .emptyPrompt: return "the prompt encodes to no tokens"
        case let .memoryExceeded(needed, available):
            return String(format: "the run needs at least %.1f GB of memory beyond the model and %.1f GB is available: lower %@, %@ or %@",
                          needed / 1e9, available / 1e9, name(.batch), name(.sequence), name(.rank))
        case let .lossNotFinite(step, loss):
            return "the training loss became \(loss) at step \(step); lower \(name(.learningRate)) or set \(name(.clip))"
        }
    }
}
