// Reading the two file layouts of a BPE tokenizer into one description (byte-level, or
// SentencePiece-style from tokenizer.json: SentencePieceSettings):
// - tokenizer.json (Hugging Face tokenizers): model {type BPE, vocab, merges as "a b" strings
//   or [a, b] pairs, ignore_merges, unk_token...}, added_tokens, normalizer, pre_tokenizer,
//   post_processor, decoder. Every component is checked against what this implementation
//   follows exactly; anything else is refused by name rather than tokenized differently.
// - vocab.json + merges.txt (GPT-2's original files): token -> id, and one merge per line,
//   "#version" header skipped; GPT-2's pre-tokenizer and decoder are implied, and
//   <|endoftext|> is a special token when the vocabulary has it (as in transformers).

import Glibc
import TensorIO

/// One element of a post-processor template: fixed ids, or the encoded text.
enum TemplateItem: Equatable {
    case tokens([Int32])
    case sequence
}

struct TokenizerDefinition {
    var path: String
    var vocabulary: [(token: String, id: Int32)] = []
    /// Merges in rank order, with the line (merges.txt) or index + 1 (tokenizer.json) they came from.
    var merges: [(left: String, right: String, line: Int)] = []
    var ignoreMerges = false
    var unknownToken: String?
    var fuseUnknown = false
    var addedTokens: [AddedToken] = []
    var preTokenizer = PreTokenizer(steps: [.byteLevel(useRegex: true)])
    /// The normalizer is NFC (Qwen2/2.5, Qwen3): text is composed before it is cut.
    var composesText = false
    /// The template for one sequence, applied when special tokens are asked for.
    var template: [TemplateItem]?
    /// model.byte_fallback: characters missing from the vocabulary become <0xNN> tokens.
    var byteFallback = false
    /// The SentencePiece-style normalizer, pre-tokenizer and decoder; nil for byte-level BPE.
    var sentencePiece: SentencePieceSettings?

    // MARK: tokenizer.json

    init(tokenizerJSON path: String) throws {
        try self.init(tokenizerJSON: try TokenizerDefinition.readJSON(path), path: path)
    }

    /// A tokenizer.json already parsed (one a GGUF file carries); `path` names it in errors.
    init(tokenizerJSON root: JSONValue, path: String) throws {
        self.path = path
        guard let model = root["model"], model.objectMembers != nil else {
            throw TokenizerError.invalidFormat(path: path, problem: "no \"model\" object")
        }
        let type = model["type"]?.stringValue ?? (model["merges"] != nil ? "BPE" : "unknown")
        guard type == "BPE" else { throw TokenizerError.unsupportedModel(path: path, type: type) }
        try readModel(model)
        try readAddedTokens(root["added_tokens"])
        if let settings = try SentencePieceSettings(root: root, path: path) {
            sentencePiece = settings
        } else {
            if byteFallback {
                throw TokenizerError.unsupportedComponent(path: path, component: "model option", detail: "byte_fallback in a byte-level tokenizer")
            }
            composesText = try readNormalizer(root["normalizer"])
            preTokenizer = try readPreTokenizer(root["pre_tokenizer"])
            try checkDecoder(root["decoder"])
        }
        template = try readPostProcessor(root["post_processor"])
    }

    private mutating func readModel(_ model: JSONValue) throws {
        guard let vocab = model["vocab"]?.objectMembers else {
            throw TokenizerError.invalidFormat(path: path, problem: "model.vocab is not an object")
        }
        vocabulary = try TokenizerDefinition.readVocabulary(vocab, path: path)
        guard let mergeList = model["merges"]?.arrayValue else {
            throw TokenizerError.invalidFormat(path: path, problem: "model.merges is not an array")
        }
        merges.reserveCapacity(mergeList.count)
        for (index, merge) in mergeList.enumerated() {
            if let text = merge.stringValue {
                merges.append(try TokenizerDefinition.splitMerge(text, line: index + 1, path: path))
            } else if let pair = merge.arrayValue, pair.count == 2, let left = pair[0].stringValue,
                      let right = pair[1].stringValue {
                merges.append((left, right, index + 1))
            } else {
                throw TokenizerError.invalidFormat(path: path, problem: "model.merges[\(index)] is not \"a b\" nor [a, b]")
            }
        }
        ignoreMerges = model["ignore_merges"]?.boolValue ?? false
        unknownToken = model["unk_token"]?.stringValue
        fuseUnknown = model["fuse_unk"]?.boolValue ?? false
        byteFallback = model["byte_fallback"]?.boolValue ?? false
        if let dropout = model["dropout"], dropout != .null, dropout.doubleValue != 0 {
            throw TokenizerError.unsupportedComponent(path: path, component: "model option", detail: "BPE dropout (random encodings)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[key]?.stringValue, !value.isEmpty {
                throw TokenizerError.unsupportedComponent(path: path, component: "model option", detail: "\(key) \"\(value)\"")
            }
        }
    }

    private mutating func readAddedTokens(_ value: JSONValue?) throws {
        guard let list = value?.arrayValue else { return }
        for (index, item) in list.enumerated() {
            guard let id = item["id"]?.intValue, let content = item["content"]?.stringValue,
                  let tokenID = Int32(exactly: id), tokenID >= 0 else {
                throw TokenizerError.invalidFormat(path: path, problem: "added_tokens[\(index)] has no id and content")
            }
            let special = item["special"]?.boolValue ?? false
            addedTokens.append(AddedToken(
                id: tokenID, content: content, special: special,
                singleWord: item["single_word"]?.boolValue ?? false,
                leftStrip: item["lstrip"]?.boolValue ?? false,
                rightStrip: item["rstrip"]?.boolValue ?? false,
                normalized: item["normalized"]?.boolValue ?? !special))
        }
    }

    /// Whether the normalizer is NFC; none (or an empty Sequence) is false, any other refused.
    private func readNormalizer(_ value: JSONValue?) throws -> Bool {
        guard let value, value != .null else { return false }
        if value["type"]?.stringValue == "Sequence", value["normalizers"]?.arrayValue?.isEmpty == true { return false }
        if value["type"]?.stringValue == "NFC" { return true }
        throw TokenizerError.unsupportedComponent(
            path: path, component: "normalizer", detail: value["type"]?.stringValue ?? "unknown")
    }

    private func readPreTokenizer(_ value: JSONValue?) throws -> PreTokenizer {
        var steps: [PreTokenizerStep] = []
        var addPrefixSpace = false
        func read(_ item: JSONValue) throws {
            let type = item["type"]?.stringValue ?? "unknown"
            switch type {
            case "Sequence":
                for inner in item["pretokenizers"]?.arrayValue ?? [] { try read(inner) }
            case "ByteLevel":
                addPrefixSpace = item["add_prefix_space"]?.boolValue ?? true
                steps.append(.byteLevel(useRegex: item["use_regex"]?.boolValue ?? true))
            case "Split":
                guard let regex = item["pattern"]?["Regex"]?.stringValue else {
                    throw TokenizerError.unsupportedComponent(path: path, component: "pre_tokenizer", detail: "Split on a plain string")
                }
                guard let pattern = SplitPattern(regex: regex) else {
                    throw TokenizerError.unsupportedComponent(path: path, component: "pre_tokenizer", detail: "Split regex \(regex)")
                }
                let behavior = item["behavior"]?.stringValue ?? "Isolated"
                guard behavior == "Isolated", item["invert"]?.boolValue != true else {
                    throw TokenizerError.unsupportedComponent(path: path, component: "pre_tokenizer", detail: "Split behavior \(behavior) (invert \(item["invert"]?.boolValue ?? false))")
                }
                steps.append(.split(pattern))
            case "Digits":
                steps.append(.digits(individual: item["individual_digits"]?.boolValue ?? false))
            default:
                throw TokenizerError.unsupportedComponent(path: path, component: "pre_tokenizer", detail: type)
            }
        }
        guard let value, value != .null else {
            throw TokenizerError.unsupportedComponent(path: path, component: "pre_tokenizer", detail: "none (not byte-level BPE)")
        }
        try read(value)
        // The byte mapping must come last: a step after it would see mapped characters.
        guard case .byteLevel = steps.last, steps.dropLast().allSatisfy({ if case .byteLevel = $0 { false } else { true } }) else {
            throw TokenizerError.unsupportedComponent(path: path, component: "pre_tokenizer", detail: "ByteLevel is not the last step (not byte-level BPE)")
        }
        return PreTokenizer(steps: steps, addPrefixSpace: addPrefixSpace)
    }

    private func readPostProcessor(_ value: JSONValue?) throws -> [TemplateItem]? {
        guard let value, value != .null else { return nil }
        let type = value["type"]?.stringValue ?? "unknown"
        switch type {
        case "ByteLevel":
            return nil  // only moves offsets
        case "Sequence":
            var result: [TemplateItem]?
            for inner in value["processors"]?.arrayValue ?? [] {
                if let template = try readPostProcessor(inner) {
                    guard result == nil else {
                        throw TokenizerError.unsupportedComponent(path: path, component: "post_processor", detail: "two templates")
                    }
                    result = template
                }
            }
            return result
        case "TemplateProcessing":
            guard let single = value["single"]?.arrayValue else {
                throw TokenizerError.invalidFormat(path: path, problem: "post_processor TemplateProcessing has no \"single\" template")
            }
            return try single.map { item in
                if item["Sequence"] != nil { return .sequence }
                guard let name = item["SpecialToken"]?["id"]?.stringValue,
                      let ids = value["special_tokens"]?[name]?["ids"]?.arrayValue else {
                    throw TokenizerError.invalidFormat(path: path, problem: "post_processor template item without a known special token")
                }
                return .tokens(try ids.map { id in
                    guard let id = id.intValue, let value = Int32(exactly: id) else {
                        throw TokenizerError.invalidFormat(path: path, problem: "post_processor special token \(name) has a bad id")
                    }
                    return value
                })
            }
        default:
            throw TokenizerError.unsupportedComponent(path: path, component: "post_processor", detail: type)
        }
    }

    private func checkDecoder(_ value: JSONValue?) throws {
        let type = value?["type"]?.stringValue ?? "none"
        guard type == "ByteLevel" else {
            throw TokenizerError.unsupportedComponent(path: path, component: "decoder", detail: type)
        }
    }

    // MARK: vocab.json + merges.txt

    init(vocabularyFile: String, mergesFile: String) throws {
        path = vocabularyFile
        guard let vocab = try TokenizerDefinition.readJSON(vocabularyFile).objectMembers else {
            throw TokenizerError.invalidFormat(path: vocabularyFile, problem: "not a JSON object of token -> id")
        }
        vocabulary = try TokenizerDefinition.readVocabulary(vocab, path: vocabularyFile)
        let text = try TokenizerDefinition.readText(mergesFile)
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || line.hasPrefix("#version") { continue }
            merges.append(try TokenizerDefinition.splitMerge(String(line), line: index + 1, path: mergesFile))
        }
        if let endOfText = vocabulary.first(where: { $0.token == "<|endoftext|>" }) {
            addedTokens = [AddedToken(id: endOfText.id, content: "<|endoftext|>", special: true)]
        }
    }

    // MARK: helpers

    private static func splitMerge(_ text: String, line: Int, path: String) throws -> (String, String, Int) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw TokenizerError.malformedMerge(path: path, line: line, text: text)
        }
        return (String(parts[0]), String(parts[1]), line)
    }

    private static func readVocabulary(_ members: [JSONMember], path: String) throws -> [(token: String, id: Int32)] {
        try members.map { member in
            guard let id = member.value.intValue, let value = Int32(exactly: id), value >= 0 else {
                throw TokenizerError.invalidFormat(path: path, problem: "vocabulary entry \"\(member.key)\" has no valid id")
            }
            return (member.key, value)
        }
    }

    static func readText(_ path: String) throws -> String {
        let file = try open(path)
        return String(decoding: file.bytes, as: UTF8.self)
    }

    static func readJSON(_ path: String) throws -> JSONValue {
        let file = try open(path)
        do {
            return try JSON.parse(file.bytes, maxDepth: 64)
        } catch let error as JSONError {
            throw TokenizerError.invalidJSON(path: path, reason: error.message)
        }
    }

    private static func open(_ path: String) throws -> MappedFile {
        guard access(SystemPath.cString(path), F_OK) == 0 else { throw TokenizerError.missingFile(path: path) }
        do {
            return try MappedFile(path: path)
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: "\(error)")
        }
    }
}
