// Byte-level BPE (GPT-2, LLaMA-3, SmolLM): added tokens are cut out of the text,
// the rest is pre-tokenized into pieces, and each piece's UTF-8 bytes are merged by the BPE
// model. Works on bytes throughout: the byte-to-character alphabet of the vocabulary files is
// undone once, when loading, so no string is built per token.

import Compute
import Foundation
import TensorIO

public struct ByteLevelBPETokenizer: TextTokenizer {
    let model: BytePairModel
    let preTokenizer: PreTokenizer
    /// Added tokens with normalized false, searched first; then those with normalized true.
    let exactMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let template: [TemplateItem]?
    /// The bytes of each id, as Hugging Face's ByteLevel decoder gives them.
    let tokenBytes: [UInt8]
    let tokenOffsets: [Int]
    let isSpecial: [Bool]
    let addedTokens: [AddedToken]
    /// NFC before encoding (tokenizer.json's normalizer NFC).
    let composesText: Bool
    /// Vocabulary entries with characters outside the byte alphabet (never produced by BPE).
    let plainTokens: [String: Int32]

    public let vocabularySize: Int
    public let bosId: Int32?
    public let endOfTextId: Int32?

    /// GPT-2's original files.
    public init(vocabularyFile: String, mergesFile: String) throws {
        try self.init(TokenizerDefinition(vocabularyFile: vocabularyFile, mergesFile: mergesFile))
    }

    /// A Hugging Face tokenizer.json whose model is byte-level BPE.
    public init(tokenizerJSON path: String) throws {
        try self.init(TokenizerDefinition(tokenizerJSON: path))
    }

    /// `bosToken` and `endOfTextToken` (from tokenizer_config.json, say) override the guesses:
    /// the template's leading special token for BOS; <|endoftext|>, <|end_of_text|> or </s>.
    init(_ definition: TokenizerDefinition, bosToken: String? = nil, endOfTextToken: String? = nil) throws {
        let path = definition.path
        if definition.sentencePiece != nil {
            throw TokenizerError.unsupportedComponent(path: path, component: "pre_tokenizer", detail: "SentencePiece-style (Metaspace or ▁ normalizer), not byte-level: load it with TokenizerLoader")
        }
        var vocabulary = ByteKeyTable(capacity: definition.vocabulary.count)
        var plainTokens: [String: Int32] = [:]
        var largestId: Int32 = -1
        for (token, id) in definition.vocabulary {
            if let bytes = ByteLevelAlphabet.bytes(ofToken: token) {
                vocabulary.set(bytes, Int64(id))
            } else {
                plainTokens[token] = id
            }
            largestId = max(largestId, id)
        }
        func vocabularyId(_ token: String) -> Int32? {
            if let bytes = ByteLevelAlphabet.bytes(ofToken: token), let id = vocabulary.value(for: bytes) { return Int32(id) }
            return plainTokens[token]
        }

        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(definition.merges.count)
        for (rank, merge) in definition.merges.enumerated() {
            let leftBytes = ByteLevelAlphabet.bytes(ofToken: merge.left)
            let rightBytes = ByteLevelAlphabet.bytes(ofToken: merge.right)
            guard let left = leftBytes.flatMap({ vocabulary.value(for: $0) }) ?? plainTokens[merge.left].map(Int64.init) else {
                throw TokenizerError.unknownMergeToken(path: path, line: merge.line, token: merge.left)
            }
            guard let right = rightBytes.flatMap({ vocabulary.value(for: $0) }) ?? plainTokens[merge.right].map(Int64.init) else {
                throw TokenizerError.unknownMergeToken(path: path, line: merge.line, token: merge.right)
            }
            let mergedBytes = leftBytes.flatMap { left in rightBytes.map { left + $0 } }
            guard let merged = mergedBytes.flatMap({ vocabulary.value(for: $0) }).map(Int32.init) ?? vocabularyId(merge.left + merge.right) else {
                throw TokenizerError.unknownMergeToken(path: path, line: merge.line, token: merge.left + merge.right)
            }
            // A repeated merge keeps its last rank, as in Hugging Face.
            merges[UInt64(left) << 32 | UInt64(right)] = UInt64(rank) << 32 | UInt64(UInt32(merged))
        }
        let byteIds = (0..<256).map { byte -> Int32 in
            vocabulary.value(for: [UInt8(byte)]).map { Int32($0) } ?? -1
        }
        var unknownId: Int32?
        if let unknown = definition.unknownToken {
            guard let id = vocabularyId(unknown) else {
                throw TokenizerError.invalidFormat(path: path, problem: "unk_token \"\(unknown)\" is not in the vocabulary")
            }
            unknownId = id
        }
        model = BytePairModel(vocabulary: vocabulary, byteIds: byteIds, merges: merges,
                              ignoreMerges: definition.ignoreMerges, unknownId: unknownId,
                              fuseUnknown: definition.fuseUnknown)

        // An added token that is also a vocabulary entry keeps the vocabulary's id (as in Hugging Face).
        var added = definition.addedTokens
        for index in added.indices {
            if let id = vocabularyId(added[index].content) { added[index].id = id }
            largestId = max(largestId, added[index].id)
        }
        addedTokens = added
        exactMatcher = AddedTokenMatcher(added.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(added.filter { $0.normalized })
        preTokenizer = definition.preTokenizer
        composesText = definition.composesText
        template = definition.template
        self.plainTokens = plainTokens

        // Hugging Face's ByteLevel decoder: a token wholly in the alphabet gives its bytes, any
        // other token its UTF-8. Added tokens override vocabulary entries of the same id.
        vocabularySize = Int(largestId) + 1
        var tokens = [String?](repeating: nil, count: vocabularySize)
        for (token, id) in definition.vocabulary { tokens[Int(id)] = token }
        for token in added { tokens[Int(token.id)] = token.content }
        var bytes: [UInt8] = []
        var offsets = [0]
        offsets.reserveCapacity(vocabularySize + 1)
        for token in tokens {
            if let token { bytes.append(contentsOf: ByteLevelAlphabet.bytes(ofToken: token) ?? Array(token.utf8)) }
            offsets.append(bytes.count)
        }
        tokenBytes = bytes
        tokenOffsets = offsets
        var special = [Bool](repeating: false, count: vocabularySize)
        for token in added where token.special { special[Int(token.id)] = true }
        isSpecial = special

        func idOf(_ token: String) -> Int32? {
            added.first { $0.content.utf8.elementsEqual(token.utf8) }?.id ?? vocabularyId(token)
        }
        var templateBos: Int32?
        if let first = definition.template?.first, case let .tokens(ids) = first { templateBos = ids.first }
        bosId = bosToken.flatMap(idOf) ?? templateBos
        endOfTextId = endOfTextToken.flatMap(idOf)
            ?? ["<|endoftext|>", "<|end_of_text|>", "</s>"].lazy.compactMap(idOf).first
    }

    public func id(forToken token: String) -> Int32? {
        // Compared as bytes: String's == treats canonically equivalent spellings as equal.
        if let added = addedTokens.first(where: { $0.content.utf8.elementsEqual(token.utf8) }) { return added.id }
        if let bytes = ByteLevelAlphabet.bytes(ofToken: token), let id = model.vocabulary.value(for: bytes) {
            return Int32(id)
        }
        return plainTokens[token]
    }

    /// Whether `id` is a special added token (skipped by `decode(_:skipSpecialTokens: true)`).
    public func isSpecialToken(_ id: Int32) -> Bool { id >= 0 && Int(id) < isSpecial.count && isSpecial[Int(id)] }

    public func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool) -> [UInt8] {
        // Unknown ids are skipped, as Hugging Face does.
        func kept(_ id: Int32) -> Bool {
            id >= 0 && Int(id) < vocabularySize && !(skipSpecialTokens && isSpecial[Int(id)])
        }
        var total = 0
        for id in ids where kept(id) { total += tokenOffsets[Int(id) + 1] - tokenOffsets[Int(id)] }
        return [UInt8](unsafeUninitializedCapacity: total) { output, count in
            tokenBytes.withUnsafeBufferPointer { source in
                var position = 0
                for id in ids where kept(id) {
                    let start = tokenOffsets[Int(id)], length = tokenOffsets[Int(id) + 1] - start
                    for k in 0..<length { output[position + k] = source[start + k] }
                    position += length
                }
            }
            count = total
        }
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var text = text
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3)
        text.withUTF8 { encodeUTF8($0, into: &ids) }
        guard addSpecialTokens, let template else { return ids }
        var result: [Int32] = []
        result.reserveCapacity(ids.count + template.count)
        for item in template {
            switch item {
            case let .tokens(special): result.append(contentsOf: special)
            case .sequence: result.append(contentsOf: ids)
            }
        }
        return result
    }

    /// Texts at least this long are encoded on all cores.
    static let parallelMinimumBytes = 1 << 18

    /// Encodes valid UTF-8 bytes (without template), appending to `ids`.
    public func encodeUTF8(_ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], parallel: Bool = true) {
        // NFC composes only around non-ASCII scalars: ASCII text is already in NFC. The whole
        // text is composed before added tokens are found; they are ASCII in every tokenizer
        // seen (<|im_start|>), so this equals Hugging Face's composing the text between them.
        if composesText, bytes.contains(where: { $0 >= 0x80 }) {
            var composed = String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping
            composed.withUTF8 { encodeComposedUTF8($0, into: &ids, parallel: parallel) }
            return
        }
        encodeComposedUTF8(bytes, into: &ids, parallel: parallel)
    }

    private func encodeComposedUTF8(_ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], parallel: Bool) {
        var segments: [TextSegment] = []
        if exactMatcher.isEmpty {
            segments.append(TextSegment(range: 0..<bytes.count, id: -1))
        } else {
            exactMatcher.split(bytes, 0..<bytes.count, into: &segments)
        }
        if !normalizedMatcher.isEmpty {
            let first = segments
            segments.removeAll(keepingCapacity: true)
            for segment in first {
                if segment.id >= 0 {
                    segments.append(segment)
                } else {
                    normalizedMatcher.split(bytes, segment.range, into: &segments)
                }
            }
        }
        guard parallel, bytes.count >= ByteLevelBPETokenizer.parallelMinimumBytes, Parallel.coreCount > 1 else {
            encodeSegments(segments[...], bytes, into: &ids)
            return
        }
        // Cut long stretches of text where every supported pattern cuts anyway, then give each
        // core a run of consecutive segments of about equal size.
        let items = ByteLevelBPETokenizer.cutForParallelWork(segments, bytes, every: 1 << 15)
        let groups = Parallel.coreCount
        var bounds = [0]
        var covered = 0
        for (index, item) in items.enumerated() {
            covered += item.range.count
            if covered * groups >= bytes.count * bounds.count && bounds.count < groups { bounds.append(index + 1) }
        }
        if bounds.last != items.count { bounds.append(items.count) }
        var results = [[Int32]](repeating: [], count: bounds.count - 1)
        results.withUnsafeMutableBufferPointer { results in
            Parallel.forEachRange(count: results.count, minimumChunk: 1) { range in
                for group in range {
                    var local: [Int32] = []
                    local.reserveCapacity((bounds[group + 1] - bounds[group]) << 13)
                    encodeSegments(items[bounds[group]..<bounds[group + 1]], bytes, into: &local)
                    results[group] = local
                }
            }
        }
        for part in results { ids.append(contentsOf: part) }
    }

    private func encodeSegments(_ segments: ArraySlice<TextSegment>, _ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32]) {
        var state = EncodingState()
        for segment in segments {
            if segment.id >= 0 {
                ids.append(segment.id)
            } else if !segment.range.isEmpty {
                encodeSegment(UnsafeBufferPointer(rebasing: bytes[segment.range]), into: &ids, state: &state)
            }
        }
    }

    /// Text segments cut into parts of about `every` bytes, each cut just before a space that
    /// has an ASCII letter on both sides. Every supported pre-tokenizer ends a piece there (a
    /// letter run stops at the space; no pattern looks behind), and the space cannot take a
    /// prefix space, so the parts encode to the same ids as the whole.
    static func cutForParallelWork(_ segments: [TextSegment], _ bytes: UnsafeBufferPointer<UInt8>, every: Int) -> [TextSegment] {
        func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
        var items: [TextSegment] = []
        for segment in segments {
            guard segment.id < 0 else {
                items.append(segment)
                continue
            }
            var start = segment.range.lowerBound
            var probe = start + every
            while probe + 1 < segment.range.upperBound {
                if bytes[probe] == 0x20 && isLetter(bytes[probe - 1]) && isLetter(bytes[probe + 1]) {
                    items.append(TextSegment(range: start..<probe, id: -1))
                    start = probe
                    probe = start + every
                } else {
                    probe += 1
                }
            }
            items.append(TextSegment(range: start..<segment.range.upperBound, id: -1))
        }
        return items
    }

    private func encodeSegment(_ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], state: inout EncodingState) {
        state.text.load(bytes)
        preTokenizer.pieces(of: state.text, into: &state.pieces, scratch: &state.splitScratch)
        if preTokenizer.addPrefixSpace {
            guard !state.pieces.isEmpty else { return }
            preTokenizer.prefixed(state.pieces, of: state.text, bytes, bytes: &state.prefixedBytes,
                                  text: &state.prefixedText, output: &state.prefixedPieces, scratch: &state.splitScratch)
            let prefixedBytes = state.prefixedBytes, pieces = state.prefixedPieces, offsets = state.prefixedText.offsets
            prefixedBytes.withUnsafeBufferPointer { prefixed in
                encodePieces(pieces, offsets: offsets, prefixed, into: &ids, state: &state)
            }
        } else {
            encodePieces(state.pieces, offsets: state.text.offsets, bytes, into: &ids, state: &state)
        }
    }

    private func encodePieces(_ pieces: [Range<Int>], offsets: [Int], _ bytes: UnsafeBufferPointer<UInt8>,
                              into ids: inout [Int32], state: inout EncodingState) {
        for piece in pieces {
            let word = UnsafeBufferPointer(rebasing: bytes[offsets[piece.lowerBound]..<offsets[piece.upperBound]])
            if let cached = state.cache.value(for: word) {
                let start = Int(cached >> 32), count = Int(cached & 0xFFFF_FFFF)
                ids.append(contentsOf: state.cachedIds[start..<(start + count)])
                continue
            }
            let before = ids.count
            model.encodeWord(word, into: &ids, scratch: &state.word)
            if state.cache.count >= EncodingState.cacheLimit {
                state.cache.removeAll()
                state.cachedIds.removeAll(keepingCapacity: true)
            }
            state.cache.set(word, Int64(state.cachedIds.count) << 32 | Int64(ids.count - before))
            state.cachedIds.append(contentsOf: ids[before...])
        }
    }
}

/// Buffers and the word cache of one encode call (a tokenizer value is shared between threads,
/// so the cache is not kept in it).
struct EncodingState {
    static let cacheLimit = 1 << 16
    var text = ScalarText()
    var pieces: [Range<Int>] = []
    var splitScratch: [Range<Int>] = []
    var cache = ByteKeyTable(capacity: 4096)
    var cachedIds: [Int32] = []
    var word = WordScratch()
    var prefixedBytes: [UInt8] = []
    var prefixedText = ScalarText()
    var prefixedPieces: [Range<Int>] = []
}
