// SentencePiece-style BPE from a tokenizer.json (LLaMA-2, Mistral, Gemma): added tokens are cut
// out of the text, each stretch between them is normalized (spaces to "▁", a leading "▁"),
// cut into words by the Metaspace pre-tokenizer when there is one (else one word per
// stretch), and each word's characters are merged by the BPE model, characters missing from
// the vocabulary falling back to <0xNN> byte tokens. The template (BOS) is applied on request.
// Decoding follows the decoder chain: "▁" -> " ", byte tokens -> bytes, leading space stripped.
// See SentencePieceSettings for what is read and what is refused.

import Compute
import TensorIO

public struct SentencePieceBPETokenizer: TextTokenizer {
    let model: BytePairModel
    let settings: SentencePieceSettings
    /// The id of <0xNN> for each byte (-1 when absent); nil without byte_fallback.
    let byteFallbackIds: [Int32]?
    let exactMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let template: [TemplateItem]?
    /// Each id's token as written in the files (added tokens' content for theirs).
    let tokens: [String?]
    /// Each id's decoded bytes (▁ as a space when the decoder says so, byte tokens as their byte).
    let tokenBytes: [[UInt8]]
    /// Whether an id is a <0xNN> token decoded to its byte (grouped as Hugging Face's ByteFallback does).
    let isByteToken: [Bool]
    let isSpecial: [Bool]
    let addedTokens: [AddedToken]
    let vocabulary: [String: Int32]
    /// No vocabulary entry has a ▁ after another character (and ▁ is one): BPE never merges
    /// across the start of a ▁ that follows a non-▁ character, so a long word may be cut
    /// there and its parts encoded on all cores with the same ids (true of SentencePiece
    /// vocabularies, whose pieces only start with ▁ or are runs of ▁).
    let cutsBeforeMarkers: Bool

    public let vocabularySize: Int
    public let bosId: Int32?
    public let endOfTextId: Int32?

    init(_ definition: TokenizerDefinition, settings: SentencePieceSettings, bosToken: String? = nil, endOfTextToken: String? = nil) throws {
        let path = definition.path
        self.settings = settings
        var table = ByteKeyTable(capacity: definition.vocabulary.count)
        var vocabulary: [String: Int32] = [:]
        var largestId: Int32 = -1
        for (token, id) in definition.vocabulary {
            table.set(Array(token.utf8), Int64(id))
            vocabulary[token] = id
            largestId = max(largestId, id)
        }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(definition.merges.count)
        for (rank, merge) in definition.merges.enumerated() {
            guard let left = vocabulary[merge.left] else { throw TokenizerError.unknownMergeToken(path: path, line: merge.line, token: merge.left) }
            guard let right = vocabulary[merge.right] else { throw TokenizerError.unknownMergeToken(path: path, line: merge.line, token: merge.right) }
            guard let merged = vocabulary[merge.left + merge.right] else {
                throw TokenizerError.unknownMergeToken(path: path, line: merge.line, token: merge.left + merge.right)
            }
            merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] = UInt64(rank) << 32 | UInt64(UInt32(merged))
        }
        func byteToken(_ byte: Int) -> String {
            let hex = String(byte, radix: 16, uppercase: true)
            return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
        }
        byteFallbackIds = definition.byteFallback ? (0..<256).map { vocabulary[byteToken($0)] ?? -1 } : nil
        var unknownId: Int32?
        if let unknown = definition.unknownToken {
            guard let id = vocabulary[unknown] else {
                throw TokenizerError.invalidFormat(path: path, problem: "unk_token \"\(unknown)\" is not in the vocabulary")
            }
            unknownId = id
        }
        model = BytePairModel(vocabulary: table, byteIds: [], merges: merges, ignoreMerges: definition.ignoreMerges,
                              unknownId: unknownId, fuseUnknown: definition.fuseUnknown)

        var added = definition.addedTokens
        for index in added.indices {
            if let id = vocabulary[added[index].content] { added[index].id = id }
            largestId = max(largestId, added[index].id)
        }
        addedTokens = added
        exactMatcher = AddedTokenMatcher(added.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized).map { token in
            var normalized = token
            normalized.content = settings.normalized(token.content)
            return normalized
        })
        template = definition.template
        self.vocabulary = vocabulary
        let markerScalar = Unicode.Scalar(0x2581)!
        cutsBeforeMarkers = vocabulary[SentencePieceSettings.marker] != nil && !definition.vocabulary.contains { token, _ in
            var previous: Unicode.Scalar?
            for scalar in token.unicodeScalars {
                if scalar == markerScalar, let previous, previous != markerScalar { return true }
                previous = scalar
            }
            return false
        }

        vocabularySize = Int(largestId) + 1
        var names = [String?](repeating: nil, count: vocabularySize)
        for (token, id) in definition.vocabulary { names[Int(id)] = token }
        for token in added { names[Int(token.id)] = token.content }
        tokens = names
        var byteOf = [Int: UInt8]()
        if settings.decodesByteFallback, let fallback = byteFallbackIds {
            for (byte, id) in fallback.enumerated() where id >= 0 { byteOf[Int(id)] = UInt8(byte) }
        }
        let addedIds = Set(added.map { Int($0.id) })
        tokenBytes = names.enumerated().map { id, name in
            guard let name else { return [] }
            if let byte = byteOf[id], !addedIds.contains(id) { return [byte] }
            return settings.decodesMarker ? Array(name.utf8).replacingMarkers(with: 0x20) : Array(name.utf8)
        }
        isByteToken = (0..<vocabularySize).map { byteOf[$0] != nil && !addedIds.contains($0) }
        var special = [Bool](repeating: false, count: vocabularySize)
        for token in added where token.special { special[Int(token.id)] = true }
        isSpecial = special

        func idOf(_ token: String) -> Int32? { added.first { $0.content.utf8.elementsEqual(token.utf8) }?.id ?? vocabulary[token] }
        var templateBos: Int32?
        if let first = definition.template?.first, case let .tokens(ids) = first { templateBos = ids.first }
        bosId = bosToken.flatMap(idOf) ?? templateBos
        endOfTextId = endOfTextToken.flatMap(idOf) ?? ["</s>", "<eos>", "<|endoftext|>"].lazy.compactMap(idOf).first
    }

    public func id(forToken token: String) -> Int32? {
        addedTokens.first(where: { $0.content.utf8.elementsEqual(token.utf8) })?.id ?? vocabulary[token]
    }

    public func isSpecialToken(_ id: Int32) -> Bool { id >= 0 && Int(id) < isSpecial.count && isSpecial[Int(id)] }

    // MARK: encoding

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var text = text
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3)
        text.withUTF8 { encodeUTF8($0, into: &ids, parallel: true) }
        guard addSpecialTokens, let template else { return ids }
        var result: [Int32] = []
        for item in template {
            switch item {
            case let .tokens(special): result.append(contentsOf: special)
            case .sequence: result.append(contentsOf: ids)
            }
        }
        return result
    }

    /// Encodes valid UTF-8 bytes (without template), appending to `ids`. Without a
    /// pre-tokenizer a whole stretch of text is one BPE word: with `parallel`, a long one is
    /// cut where no merge can cross (cutsBeforeMarkers) and its parts encoded on all cores.
    public func encodeUTF8(_ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], parallel: Bool = true) {
        var segments: [TextSegment] = []
        if exactMatcher.isEmpty {
            segments.append(TextSegment(range: 0..<bytes.count, id: -1))
        } else {
            exactMatcher.split(bytes, 0..<bytes.count, into: &segments)
        }
        var state = SentencePieceState()
        for segment in segments {
            if segment.id >= 0 {
                ids.append(segment.id)
            } else if !segment.range.isEmpty {
                encodeStretch(UnsafeBufferPointer(rebasing: bytes[segment.range]), atStart: segment.range.lowerBound == 0,
                              parallel: parallel, into: &ids, state: &state)
            }
        }
    }

    /// One stretch of text between added tokens: normalize, find normalized added tokens,
    /// pre-tokenize, merge.
    private func encodeStretch(_ raw: UnsafeBufferPointer<UInt8>, atStart: Bool, parallel: Bool, into ids: inout [Int32],
                               state: inout SentencePieceState) {
        var normalized: [UInt8] = []
        normalized.reserveCapacity(raw.count + raw.count / 2 + 3)
        if settings.prependsMarker { normalized += SentencePieceSettings.markerBytes }
        for byte in raw {
            if byte == 0x20 && settings.replacesSpaces { normalized += SentencePieceSettings.markerBytes } else { normalized.append(byte) }
        }
        normalized.withUnsafeBufferPointer { text in
            var pieces: [TextSegment] = []
            if normalizedMatcher.isEmpty {
                pieces.append(TextSegment(range: 0..<text.count, id: -1))
            } else {
                normalizedMatcher.split(text, 0..<text.count, into: &pieces)
            }
            for piece in pieces {
                if piece.id >= 0 {
                    ids.append(piece.id)
                } else if !piece.range.isEmpty {
                    preTokenize(UnsafeBufferPointer(rebasing: text[piece.range]), atStart: atStart && piece.range.lowerBound == 0,
                                parallel: parallel, into: &ids, state: &state)
                }
            }
        }
    }

    /// Metaspace (spaces to ▁, a leading ▁ by the prepend scheme, cut before each ▁), or the
    /// whole piece as one word without it.
    private func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, parallel: Bool, into ids: inout [Int32],
                             state: inout SentencePieceState) {
        guard let scheme = settings.metaspace else {
            encodeLongWord(piece, parallel: parallel, into: &ids, state: &state)
            return
        }
        let marker = SentencePieceSettings.markerBytes
        var text: [UInt8] = []
        text.reserveCapacity(piece.count + 3)
        // Checked after spaces become ▁, as Hugging Face does.
        let startsWithMarker = piece.first == 0x20
            || (piece.count >= 3 && piece[0] == marker[0] && piece[1] == marker[1] && piece[2] == marker[2])
        if !startsWithMarker && (scheme == .always || (scheme == .first && atStart)) { text += marker }
        for byte in piece {
            if byte == 0x20 { text += marker } else { text.append(byte) }
        }
        text.withUnsafeBufferPointer { text in
            guard settings.splitsAtMarker else {
                encodeLongWord(text, parallel: parallel, into: &ids, state: &state)
                return
            }
            var start = 0, i = 0
            while i + 2 < text.count {
                if text[i] == marker[0] && text[i + 1] == marker[1] && text[i + 2] == marker[2] {
                    if i > start { encodeWord(UnsafeBufferPointer(rebasing: text[start..<i]), into: &ids, state: &state) }
                    start = i
                    i += 3
                } else {
                    i += 1
                }
            }
            if start < text.count { encodeWord(UnsafeBufferPointer(rebasing: text[start...]), into: &ids, state: &state) }
        }
    }

    /// Words at least this long are encoded on all cores (when allowed).
    static let parallelMinimumBytes = 1 << 17

    /// A word that may be a whole stretch of text. When no merge can cross the start of a ▁
    /// that follows another character (cutsBeforeMarkers), it is cut at every such point:
    /// the same ids, from short words that the cache and the small merge loop serve (a
    /// megabyte is otherwise one heap-merged word), and long stretches are shared among the
    /// cores in parts of ~64 KiB.
    private func encodeLongWord(_ word: UnsafeBufferPointer<UInt8>, parallel: Bool, into ids: inout [Int32], state: inout SentencePieceState) {
        guard cutsBeforeMarkers else {
            encodeWord(word, into: &ids, state: &state)
            return
        }
        guard parallel, word.count >= Self.parallelMinimumBytes, Parallel.coreCount > 1 else {
            encodeCutWords(word, into: &ids, state: &state)
            return
        }
        var cuts = [0]
        var probe = 1 << 16
        while probe + 3 < word.count {
            // A ▁ (E2 96 81) whose preceding byte is not the end of another ▁.
            if word[probe] == 0xE2 && word[probe + 1] == 0x96 && word[probe + 2] == 0x81 && word[probe - 1] != 0x81 {
                cuts.append(probe)
                probe += 1 << 16
            } else {
                probe += 1
            }
        }
        cuts.append(word.count)
        var parts = [[Int32]](repeating: [], count: cuts.count - 1)
        parts.withUnsafeMutableBufferPointer { parts in
            Parallel.forEachRange(count: parts.count, minimumChunk: 1) { range in
                var local = SentencePieceState()
                for part in range {
                    var partIds: [Int32] = []
                    encodeCutWords(UnsafeBufferPointer(rebasing: word[cuts[part]..<cuts[part + 1]]), into: &partIds, state: &local)
                    parts[part] = partIds
                }
            }
        }
        for part in parts { ids.append(contentsOf: part) }
    }

    /// `text` cut just before each ▁ that follows another character, each part a word.
    private func encodeCutWords(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], state: inout SentencePieceState) {
        var start = 0, i = 1
        while i + 2 < text.count {
            // A ▁ (E2 96 81) whose preceding byte is not the end of another ▁.
            if text[i] == 0xE2 && text[i + 1] == 0x96 && text[i + 2] == 0x81 && text[i - 1] != 0x81 {
                encodeWord(UnsafeBufferPointer(rebasing: text[start..<i]), into: &ids, state: &state)
                start = i
                i += 3
            } else {
                i += 1
            }
        }
        if start < text.count { encodeWord(UnsafeBufferPointer(rebasing: text[start...]), into: &ids, state: &state) }
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], state: inout SentencePieceState) {
        if let cached = state.cache.value(for: word) {
            let start = Int(cached >> 32), count = Int(cached & 0xFFFF_FFFF)
            ids.append(contentsOf: state.cachedIds[start..<(start + count)])
            return
        }
        let before = ids.count
        model.encodeCharacterWord(word, byteFallbackIds: byteFallbackIds, into: &ids, scratch: &state.word)
        // Long words (a whole text without a pre-tokenizer) are not worth keeping.
        guard word.count <= 256 else { return }
        if state.cache.count >= EncodingState.cacheLimit {
            state.cache.removeAll()
            state.cachedIds.removeAll(keepingCapacity: true)
        }
        state.cache.set(word, Int64(state.cachedIds.count) << 32 | Int64(ids.count - before))
        state.cachedIds.append(contentsOf: ids[before...])
    }

    // MARK: decoding

    private func kept(_ id: Int32, skipSpecialTokens: Bool) -> Bool {
        id >= 0 && Int(id) < vocabularySize && tokens[Int(id)] != nil && !(skipSpecialTokens && isSpecial[Int(id)])
    }

    /// The bytes of the first kept token: the Metaspace decoder drops its ▁s.
    private func firstTokenBytes(_ id: Int32) -> [UInt8] {
        guard settings.dropsFirstTokenMarkers, !isByteToken[Int(id)], let name = tokens[Int(id)] else { return tokenBytes[Int(id)] }
        return Array(name.utf8).removingMarkers()
    }

    public func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool) -> [UInt8] {
        var output: [UInt8] = []
        for (index, id) in ids.filter({ kept($0, skipSpecialTokens: skipSpecialTokens) }).enumerated() {
            output += index == 0 ? firstTokenBytes(id) : tokenBytes[Int(id)]
        }
        return strippingLeadingSpaces(output)
    }

    /// As Hugging Face's ByteFallback decoder: a run of byte tokens that is not valid UTF-8
    /// gives one U+FFFD per byte.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        let kept = ids.filter { self.kept($0, skipSpecialTokens: skipSpecialTokens) }
        var output: [UInt8] = []
        var index = 0
        while index < kept.count {
            let id = kept[index]
            guard isByteToken[Int(id)] else {
                output += index == 0 ? firstTokenBytes(id) : tokenBytes[Int(id)]
                index += 1
                continue
            }
            var run: [UInt8] = []
            while index < kept.count && isByteToken[Int(kept[index])] {
                run += tokenBytes[Int(kept[index])]
                index += 1
            }
            if String(validating: run, as: UTF8.self) != nil {
                output += run
            } else {
                for _ in run { output += [0xEF, 0xBF, 0xBD] }
            }
        }
        return String(decoding: strippingLeadingSpaces(output), as: UTF8.self)
    }

    private func strippingLeadingSpaces(_ bytes: [UInt8]) -> [UInt8] {
        var drop = 0
        while drop < settings.strippedLeadingSpaces && drop < bytes.count && bytes[drop] == 0x20 { drop += 1 }
        return drop == 0 ? bytes : Array(bytes[drop...])
    }
}

/// Buffers and the word cache of one encode call.
struct SentencePieceState {
    var cache = ByteKeyTable(capacity: 4096)
    var cachedIds: [Int32] = []
    var word = WordScratch()
}

extension Array where Element == UInt8 {
    /// Each ▁ (E2 96 81) replaced by `byte`.
    fileprivate func replacingMarkers(with byte: UInt8) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var i = 0
        while i < count {
            if i + 2 < count && self[i] == 0xE2 && self[i + 1] == 0x96 && self[i + 2] == 0x81 {
                result.append(byte)
                i += 3
            } else {
                result.append(self[i])
                i += 1
            }
        }
        return result
    }

    fileprivate func removingMarkers() -> [UInt8] {
        var result: [UInt8] = []
        var i = 0
        while i < count {
            if i + 2 < count && self[i] == 0xE2 && self[i + 1] == 0x96 && self[i + 2] == 0x81 { i += 3 } else { result.append(self[i]); i += 1 }
        }
        return result
    }
}
