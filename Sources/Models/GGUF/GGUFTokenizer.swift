// The tokenizer in GGUF's `tokenizer.ggml.*` keys, and back.
//
// Export: a byte-level BPE tokenizer (tokenizer.json, or vocab.json + merges.txt) becomes
// model "gpt2" with the tokens by id, their types (1 normal, 3 control = special added
// token, 4 user-defined = other added token, 5 unused = an id the vocabulary lacks), the
// merges as "left right" strings, the pre-tokenizer name and the special token ids.
// A SentencePiece-style BPE tokenizer.json (LLaMA 2, Mistral, Gemma: "▁" word marker,
// byte fallback) becomes model "llama", llama.cpp's SentencePiece tokenizer: tokens,
// scores, types (also 2 unknown, 6 byte = <0xNN>), no merges. llama.cpp merges the
// adjacent pair whose joined token scores highest, so a token's score is minus the rank
// of the first merge that makes it: the same merge order as the BPE merges list.
// A model without a tokenizer gets model "none" (llama.cpp then runs on token ids).
// Import: model "gpt2" becomes a tokenizer.json with the same vocabulary, merges and
// special tokens; model "llama" a SentencePiece-style one (LLaMA 2's Prepend + Replace
// normalizer, or Replace only without the space prefix; byte fallback), its merges every
// split of a token into two tokens, in the order of the joined token's score.

import Foundation
import TensorIO

enum GGUFTokenType {
    static let normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

struct GGUFTokenizer {
    var tokens: [String]
    var types: [Int]
    var merges: [String]
    var bos: Int?
    var eos: Int?
    var pad: Int?
    /// "gpt2" (byte-level BPE), "llama" (SentencePiece) or "none" (not expressible); the
    /// rest is for "llama" only.
    var model = "gpt2"
    var scores: [Float] = []
    var unk: Int?
    var addBOS = false
    var addEOS = false
    /// SentencePiece's "add dummy prefix": "▁" starts the text (Prepend or Metaspace).
    var addSpacePrefix = false
    /// Why the tokenizer is not written (model "none").
    var unsupported: String?

    /// Reads `directory`'s tokenizer.
    static func read(directory: String, config: JSONValue?, vocabularySize: Int) throws -> GGUFTokenizer {
        let join = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        var vocabulary: [(String, Int)] = []
        var merges: [String] = []
        var added: [(content: String, id: Int, special: Bool)] = []
        var root: JSONValue?
        if FileManager.default.fileExists(atPath: join("tokenizer.json")) {
            let json = try JSONFile.read(join("tokenizer.json"))
            root = json
            guard let model = json["model"], model["type"]?.stringValue ?? "BPE" == "BPE" else {
                throw GGUFError(path: join("tokenizer.json"), "only BPE tokenizers can be written to GGUF")
            }
            vocabulary = (model["vocab"]?.objectMembers ?? []).compactMap { m in m.value.intValue.map { (m.key, $0) } }
            merges = (model["merges"]?.arrayValue ?? []).compactMap { merge in
                merge.stringValue ?? merge.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: " ") }
            }
            added = (json["added_tokens"]?.arrayValue ?? []).compactMap { token in
                guard let content = token["content"]?.stringValue, let id = token["id"]?.intValue else { return nil }
                return (content, id, token["special"]?.boolValue ?? false)
            }
        } else {
            let vocab = try JSONFile.read(join("vocab.json"))
            vocabulary = (vocab.objectMembers ?? []).compactMap { m in m.value.intValue.map { (m.key, $0) } }
            let text = try String(contentsOfFile: join("merges.txt"), encoding: .utf8)
            merges = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init).filter { !$0.hasPrefix("#version") }
        }
        let count = max(vocabularySize, (vocabulary.map(\.1) + added.map(\.id)).max().map { $0 + 1 } ?? 0)
        var tokens = (0..<count).map { "[PAD\($0)]" }
        var types = [Int](repeating: GGUFTokenType.unused, count: count)
        for (token, id) in vocabulary where id >= 0 && id < count {
            tokens[id] = token
            types[id] = GGUFTokenType.normal
        }
        for token in added where token.id >= 0 && token.id < count {
            tokens[token.id] = token.content
            types[token.id] = token.special ? GGUFTokenType.control : GGUFTokenType.userDefined
        }
        // Special ids: config.json, else tokenizer_config.json's token strings.
        let tokenizerConfig = FileManager.default.fileExists(atPath: join("tokenizer_config.json")) ? try? JSONFile.read(join("tokenizer_config.json")) : nil
        func special(_ idKey: String, _ tokenKey: String) -> Int? {
            if let id = config?[idKey]?.intValue { return id }
            let entry = tokenizerConfig?[tokenKey]
            guard let text = entry?.stringValue ?? entry?["content"]?.stringValue else { return nil }
            return tokens.firstIndex(of: text)
        }
        var tokenizer = GGUFTokenizer(tokens: tokens, types: types, merges: merges,
                                      bos: special("bos_token_id", "bos_token"), eos: special("eos_token_id", "eos_token"), pad: special("pad_token_id", "pad_token"))
        if let root, isSentencePiece(root) {
            do {
                if let settings = try SentencePieceSettings(root: root, path: join("tokenizer.json")) {
                    tokenizer.makeSentencePiece(root: root, settings: settings, tokenizerConfig: tokenizerConfig)
                }
            } catch {
                // A pipeline llama.cpp's SentencePiece tokenizer would not reproduce: the model
                // is still written, to run on token ids.
                tokenizer.model = "none"
                tokenizer.unsupported = "\(error)"
            }
        }
        return tokenizer
    }

    /// Turns the byte-level reading of a SentencePiece-style tokenizer.json into llama.cpp's
    /// "llama" vocabulary: scores from the merge order, byte and unknown types, BOS/EOS use.
    private mutating func makeSentencePiece(root: JSONValue, settings: SentencePieceSettings, tokenizerConfig: JSONValue?) {
        model = "llama"
        var rank: [String: Int] = [:]
        for (index, merge) in merges.enumerated() {
            let joined = merge.split(separator: " ", maxSplits: 1).joined()
            if rank[joined] == nil { rank[joined] = index }
        }
        // Tokens no merge makes (single characters, bytes, specials) come after every merged one.
        scores = tokens.indices.map { id in -Float(rank[tokens[id]] ?? merges.count + id) }
        merges = []
        for id in tokens.indices where types[id] == GGUFTokenType.normal {
            let token = tokens[id]
            if token.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"), UInt8(token.dropFirst(3).prefix(2), radix: 16) != nil {
                types[id] = GGUFTokenType.byte
            }
        }
        if let name = root["model"]?["unk_token"]?.stringValue, let id = tokens.firstIndex(of: name) {
            unk = id
            types[id] = GGUFTokenType.unknown
        }
        addSpacePrefix = settings.prependsMarker || (settings.metaspace.map { $0 != .never } ?? false)
        // BOS / EOS around the text: tokenizer_config.json's flags, else the post-processor's template.
        let template = root["post_processor"]?["single"]?.arrayValue ?? []
        let sequence = template.firstIndex { $0["Sequence"] != nil } ?? template.count
        addBOS = tokenizerConfig?["add_bos_token"]?.boolValue ?? template[..<sequence].contains { $0["SpecialToken"] != nil }
        addEOS = tokenizerConfig?["add_eos_token"]?.boolValue ?? template[sequence...].contains { $0["SpecialToken"] != nil }
    }

    /// Whether `directory`'s tokenizer.json is SentencePiece-style BPE (byte fallback, the
    /// "▁" word marker) rather than byte-level BPE: GGUF's "gpt2" model cannot express it.
    static func isSentencePiece(directory: String) -> Bool {
        let path = (directory as NSString).appendingPathComponent("tokenizer.json")
        guard let json = try? JSONFile.read(path) else { return FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("tokenizer.model")) }
        return isSentencePiece(json)
    }

    static func isSentencePiece(_ json: JSONValue) -> Bool {
        if json["model"]?["byte_fallback"]?.boolValue == true { return true }
        return json["pre_tokenizer"]?["type"]?.stringValue == "Metaspace" || json["decoder"]?["type"]?.stringValue == "Metaspace"
    }

    func metadata(preTokenizer: String) -> [(key: String, value: GGUFValue)] {
        if model == "llama" { return sentencePieceMetadata }
        var keys: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(preTokenizer)),
            ("tokenizer.ggml.tokens", .strings(tokens)),
            ("tokenizer.ggml.token_type", .int32s(types)),
            ("tokenizer.ggml.merges", .strings(merges)),
        ]
        if let bos { keys.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos { keys.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        if let pad { keys.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(pad)))) }
        keys.append(("tokenizer.ggml.add_bos_token", .bool(false)))
        return keys
    }

    private var sentencePieceMetadata: [(key: String, value: GGUFValue)] {
        var keys: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.pre", .string("default")),
            ("tokenizer.ggml.tokens", .strings(tokens)),
            ("tokenizer.ggml.scores", .array(of: .float32, scores.map { .float32($0) })),
            ("tokenizer.ggml.token_type", .int32s(types)),
        ]
        if let bos { keys.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos { keys.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        if let unk { keys.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unk)))) }
        if let pad { keys.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(pad)))) }
        keys.append(("tokenizer.ggml.add_bos_token", .bool(addBOS)))
        keys.append(("tokenizer.ggml.add_eos_token", .bool(addEOS)))
        keys.append(("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix)))
        return keys
    }

    /// The tokenizer of a GGUF header, when it has a "gpt2" or "llama" one.
    init?(header: GGUFHeader) {
        guard let model = header.value("tokenizer.ggml.model")?.stringValue, model == "gpt2" || model == "llama",
              let tokens = header.value("tokenizer.ggml.tokens")?.arrayValue?.compactMap(\.stringValue) else { return nil }
        self.tokens = tokens
        types = header.value("tokenizer.ggml.token_type")?.arrayValue?.compactMap(\.intValue) ?? Array(repeating: GGUFTokenType.normal, count: tokens.count)
        merges = header.value("tokenizer.ggml.merges")?.arrayValue?.compactMap(\.stringValue) ?? []
        bos = header.value("tokenizer.ggml.bos_token_id")?.intValue
        eos = header.value("tokenizer.ggml.eos_token_id")?.intValue
        pad = header.value("tokenizer.ggml.padding_token_id")?.intValue
        self.model = model
        if model == "llama" {
            scores = header.value("tokenizer.ggml.scores")?.arrayValue?.compactMap { value -> Float? in
                if case let .float32(score) = value { return score }
                return nil
            } ?? []
            guard scores.count == tokens.count, types.count == tokens.count else { return nil }
            unk = header.value("tokenizer.ggml.unknown_token_id")?.intValue
            addBOS = header.value("tokenizer.ggml.add_bos_token")?.boolValue ?? true
            addEOS = header.value("tokenizer.ggml.add_eos_token")?.boolValue ?? false
            addSpacePrefix = header.value("tokenizer.ggml.add_space_prefix")?.boolValue ?? true
        }
    }

    init(tokens: [String], types: [Int], merges: [String], bos: Int?, eos: Int?, pad: Int?) {
        self.tokens = tokens
        self.types = types
        self.merges = merges
        self.bos = bos
        self.eos = eos
        self.pad = pad
    }

    /// A byte-level BPE tokenizer.json (GPT-2's pre-tokenizer and decoder), or for "llama" a
    /// SentencePiece-style one.
    var tokenizerJSON: JSONValue {
        if model == "llama" { return sentencePieceJSON }
        let added: [JSONValue] = tokens.indices.filter { types.indices.contains($0) && (types[$0] == GGUFTokenType.control || types[$0] == GGUFTokenType.userDefined) }.map { id in
            .object([JSONMember("id", .integer(Int64(id))), JSONMember("content", .string(tokens[id])), JSONMember("single_word", .bool(false)),
                     JSONMember("lstrip", .bool(false)), JSONMember("rstrip", .bool(false)), JSONMember("normalized", .bool(false)),
                     JSONMember("special", .bool(types[id] == GGUFTokenType.control))])
        }
        let byteLevel = { (prefix: Bool, trim: Bool) -> JSONValue in
            .object([JSONMember("type", .string("ByteLevel")), JSONMember("add_prefix_space", .bool(prefix)),
                     JSONMember("trim_offsets", .bool(trim)), JSONMember("use_regex", .bool(true))])
        }
        return .object([
            JSONMember("version", .string("1.0")), JSONMember("truncation", .null), JSONMember("padding", .null),
            JSONMember("added_tokens", .array(added)), JSONMember("normalizer", .null),
            JSONMember("pre_tokenizer", byteLevel(false, true)), JSONMember("post_processor", byteLevel(true, false)),
            JSONMember("decoder", byteLevel(true, true)),
            JSONMember("model", .object([
                JSONMember("type", .string("BPE")), JSONMember("dropout", .null), JSONMember("unk_token", .null),
                JSONMember("continuing_subword_prefix", .null), JSONMember("end_of_word_suffix", .null),
                JSONMember("fuse_unk", .bool(false)), JSONMember("byte_fallback", .bool(false)), JSONMember("ignore_merges", .bool(false)),
                JSONMember("vocab", .object(tokens.enumerated().filter { types.indices.contains($0.offset) ? types[$0.offset] != GGUFTokenType.unused : true }
                    .map { JSONMember($0.element, .integer(Int64($0.offset))) })),
                JSONMember("merges", .array(merges.map { .string($0) })),
            ])),
        ])
    }

    private var addedTokensJSON: [JSONValue] {
        tokens.indices.filter { types[$0] == GGUFTokenType.control || types[$0] == GGUFTokenType.userDefined || types[$0] == GGUFTokenType.unknown }.map { id in
            .object([JSONMember("id", .integer(Int64(id))), JSONMember("content", .string(tokens[id])), JSONMember("single_word", .bool(false)),
                     JSONMember("lstrip", .bool(false)), JSONMember("rstrip", .bool(false)), JSONMember("normalized", .bool(false)),
                     JSONMember("special", .bool(types[id] != GGUFTokenType.userDefined))])
        }
    }

    /// The merges SentencePiece's scores imply: every split of a token into two tokens, the
    /// highest-scoring joined token first (then by the pieces' ids), as transformers rebuilds
    /// them from a tokenizer.model.
    private var sentencePieceMerges: [JSONValue] {
        var ids: [String: Int] = [:]
        for id in tokens.indices where types[id] == GGUFTokenType.normal && ids[tokens[id]] == nil { ids[tokens[id]] = id }
        var merges: [(score: Float, left: Int, right: Int)] = []
        for id in tokens.indices where types[id] == GGUFTokenType.normal {
            let characters = Array(tokens[id].unicodeScalars)
            guard characters.count > 1 else { continue }
            for cut in 1..<characters.count {
                var left = String.UnicodeScalarView(), right = String.UnicodeScalarView()
                left.append(contentsOf: characters[..<cut])
                right.append(contentsOf: characters[cut...])
                if let l = ids[String(left)], let r = ids[String(right)] { merges.append((scores[id], l, r)) }
            }
        }
        merges.sort { ($0.score, -$0.left, -$0.right) > ($1.score, -$1.left, -$1.right) }
        return merges.map { .array([.string(tokens[$0.left]), .string(tokens[$0.right])]) }
    }

    private var sentencePieceJSON: JSONValue {
        let marker = SentencePieceSettings.marker
        let str = { (text: String) -> JSONValue in .object([JSONMember("String", .string(text))]) }
        var normalizers: [JSONValue] = []
        if addSpacePrefix { normalizers.append(.object([JSONMember("type", .string("Prepend")), JSONMember("prepend", .string(marker))])) }
        normalizers.append(.object([JSONMember("type", .string("Replace")), JSONMember("pattern", str(" ")), JSONMember("content", .string(marker))]))
        var decoders: [JSONValue] = [
            .object([JSONMember("type", .string("Replace")), JSONMember("pattern", str(marker)), JSONMember("content", .string(" "))]),
            .object([JSONMember("type", .string("ByteFallback"))]), .object([JSONMember("type", .string("Fuse"))]),
        ]
        if addSpacePrefix {
            decoders.append(.object([JSONMember("type", .string("Strip")), JSONMember("content", .string(" ")), JSONMember("start", .integer(1)), JSONMember("stop", .integer(0))]))
        }
        // BOS / EOS around the text, as llama.cpp adds them.
        let ends = [(addBOS, bos), (addEOS, eos)].map { flag, id in flag ? id.flatMap { tokens.indices.contains($0) ? $0 : nil } : nil }
        let special = { (id: Int) -> JSONValue in .object([JSONMember("SpecialToken", .object([JSONMember("id", .string(tokens[id])), JSONMember("type_id", .integer(0))]))]) }
        let sequence = { (name: String) -> JSONValue in .object([JSONMember("Sequence", .object([JSONMember("id", .string(name)), JSONMember("type_id", .integer(0))]))]) }
        let single = (ends[0].map { [special($0)] } ?? []) + [sequence("A")] + (ends[1].map { [special($0)] } ?? [])
        let pair = single + (ends[0].map { [special($0)] } ?? []) + [sequence("B")] + (ends[1].map { [special($0)] } ?? [])
        let specialTokens = Set(ends.compactMap { $0 }).sorted().map { id in
            JSONMember(tokens[id], .object([JSONMember("id", .string(tokens[id])), JSONMember("ids", .array([.integer(Int64(id))])), JSONMember("tokens", .array([.string(tokens[id])]))]))
        }
        let postProcessor: JSONValue = .object([JSONMember("type", .string("TemplateProcessing")), JSONMember("single", .array(single)),
                                                JSONMember("pair", .array(pair)), JSONMember("special_tokens", .object(specialTokens))])
        return .object([
            JSONMember("version", .string("1.0")), JSONMember("truncation", .null), JSONMember("padding", .null),
            JSONMember("added_tokens", .array(addedTokensJSON)),
            JSONMember("normalizer", .object([JSONMember("type", .string("Sequence")), JSONMember("normalizers", .array(normalizers))])),
            JSONMember("pre_tokenizer", .null), JSONMember("post_processor", postProcessor),
            JSONMember("decoder", .object([JSONMember("type", .string("Sequence")), JSONMember("decoders", .array(decoders))])),
            JSONMember("model", .object([
                JSONMember("type", .string("BPE")), JSONMember("dropout", .null), JSONMember("unk_token", unk.flatMap { tokens.indices.contains($0) ? .string(tokens[$0]) : nil } ?? .null),
                JSONMember("continuing_subword_prefix", .null), JSONMember("end_of_word_suffix", .null),
                JSONMember("fuse_unk", .bool(true)), JSONMember("byte_fallback", .bool(true)), JSONMember("ignore_merges", .bool(false)),
                JSONMember("vocab", .object(tokens.indices.filter { types[$0] != GGUFTokenType.unused }.map { JSONMember(tokens[$0], .integer(Int64($0))) })),
                JSONMember("merges", .array(sentencePieceMerges)),
            ])),
        ])
    }
}
