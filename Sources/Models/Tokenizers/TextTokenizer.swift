// What the training and generation code needs from a tokenizer, and the ways loading one fails.

/// Text to token ids and back. Implementations are immutable values, safe to share between
/// threads.
public protocol TextTokenizer: Sendable {
    /// Token ids for `text`. With `addSpecialTokens`, the tokenizer's post-processor template
    /// is applied (LLaMA-3 puts `<|begin_of_text|>` first; GPT-2 and SmolLM add nothing).
    /// Special tokens written in the text itself are always recognised.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]
    /// The bytes the ids stand for, concatenated: exact even where a multi-byte character is
    /// split across tokens or the ids end inside one.
    func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool) -> [UInt8]
    /// `decodeBytes` as text; each invalid UTF-8 sequence becomes U+FFFD, as in Hugging Face.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    /// One past the largest id (vocabulary and added tokens); ids are in 0..<vocabularySize.
    var vocabularySize: Int { get }
    /// The beginning-of-sequence token, if the tokenizer has one.
    var bosId: Int32? { get }
    /// The token that ends a document (`<|endoftext|>`, `<|end_of_text|>`, ...), if any.
    var endOfTextId: Int32? { get }
    /// The id of a token given as it is written in the tokenizer files, added tokens included.
    func id(forToken token: String) -> Int32?
    /// Whether `id` is a special added token (skipped by `decode(_:skipSpecialTokens: true)`).
    func isSpecialToken(_ id: Int32) -> Bool
    /// Encodes valid UTF-8 bytes (without template), appending to `ids`; on all cores when
    /// `parallel` and the tokenizer can cut the text safely.
    func encodeUTF8(_ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], parallel: Bool)
}

extension TextTokenizer {
    public func encode(_ text: String) -> [Int32] { encode(text, addSpecialTokens: false) }
    public func decode(_ ids: [Int32]) -> String { decode(ids, skipSpecialTokens: false) }
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        String(decoding: decodeBytes(ids, skipSpecialTokens: skipSpecialTokens), as: UTF8.self)
    }
}

/// Why a tokenizer could not be loaded; every case names the file and the problem.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case unreadableFile(path: String, reason: String)
    case invalidJSON(path: String, reason: String)
    /// A key is missing or has the wrong type; `problem` says which.
    case invalidFormat(path: String, problem: String)
    /// A merge names a token that is not in the vocabulary (`line` counts from 1).
    case unknownMergeToken(path: String, line: Int, token: String)
    case malformedMerge(path: String, line: Int, text: String)
    /// Unigram, WordPiece, WordLevel...: only BPE (byte-level or SentencePiece-style) is implemented.
    case unsupportedModel(path: String, type: String)
    /// A normalizer, pre-tokenizer, post-processor, decoder or model option this implementation
    /// does not follow exactly; refused rather than tokenized differently from Hugging Face.
    case unsupportedComponent(path: String, component: String, detail: String)
    case noTokenizerFiles(directory: String)

    public var description: String {
        switch self {
        case let .missingFile(path): return "\(path): no such file"
        case let .unreadableFile(path, reason): return "\(path): cannot read: \(reason)"
        case let .invalidJSON(path, reason): return "\(path): invalid JSON: \(reason)"
        case let .invalidFormat(path, problem): return "\(path): \(problem)"
        case let .unknownMergeToken(path, line, token):
            return "\(path): merge \(line) refers to \"\(token)\", which is not in the vocabulary"
        case let .malformedMerge(path, line, text):
            return "\(path): merge \(line) is not two tokens separated by one space: \"\(text)\""
        case let .unsupportedModel(path, type):
            return "\(path): unsupported tokenizer model \(type) (only BPE is supported)"
        case let .unsupportedComponent(path, component, detail):
            return "\(path): unsupported \(component): \(detail)"
        case let .noTokenizerFiles(directory):
            return "\(directory): no tokenizer.json, nor vocab.json with merges.txt"
        }
    }
}
