// Added tokens (special tokens such as <|endoftext|>, and user additions) are found in the
// text before pre-tokenization and become their ids directly; the text between them is
// tokenized as usual. Matching follows Hugging Face's AddedVocabulary: leftmost-longest over
// the bytes, searching on after each match; `single_word` rejects a match touching a word
// character (\w) on either side, `lstrip`/`rstrip` take the whitespace beside it into the
// token. Tokens with `normalized` false are searched first, in the whole text, then those with
// `normalized` true in the text left between (the same text: no normalizer is supported).

public struct AddedToken: Equatable, Sendable {
    public var id: Int32
    public var content: String
    public var special: Bool
    public var singleWord = false
    public var leftStrip = false
    public var rightStrip = false
    public var normalized = false

    public init(id: Int32, content: String, special: Bool, singleWord: Bool = false, leftStrip: Bool = false,
                rightStrip: Bool = false, normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.leftStrip = leftStrip
        self.rightStrip = rightStrip
        self.normalized = normalized
    }
}

/// A stretch of the text: an added token's id, or -1 for text to pre-tokenize.
struct TextSegment {
    var range: Range<Int>
    var id: Int32
}

struct AddedTokenMatcher: Sendable {
    private let tokens: [AddedToken]
    private let patterns: [[UInt8]]
    /// For each first byte, the tokens starting with it, longest first.
    private let candidates: [[Int]]

    var isEmpty: Bool { tokens.isEmpty }

    init(_ tokens: [AddedToken]) {
        let kept = tokens.filter { !$0.content.isEmpty }
        self.tokens = kept
        let patterns = kept.map { Array($0.content.utf8) }
        var byFirst = [[Int]](repeating: [], count: 256)
        for (index, pattern) in patterns.enumerated() { byFirst[Int(pattern[0])].append(index) }
        self.patterns = patterns
        candidates = byFirst.map { list in list.sorted { patterns[$0].count > patterns[$1].count } }
    }

    /// Cuts `range` of `text` into segments covering it, in order.
    func split(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into output: inout [TextSegment]) {
        var start = range.lowerBound  // first byte not yet given to a segment
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            guard let match = longestMatch(text, at: i, end: end) else {
                i += 1
                continue
            }
            let token = tokens[match]
            let matchEnd = i + patterns[match].count
            if token.singleWord {
                let wordBefore = i > range.lowerBound && ScalarText.isWordCharacter(scalar(before: i, in: text))
                let wordAfter = matchEnd < end && ScalarText.isWordCharacter(scalar(at: matchEnd, in: text))
                if wordBefore || wordAfter {
                    i = matchEnd
                    continue
                }
            }
            var tokenStart = i
            var tokenEnd = matchEnd
            if token.leftStrip {
                while tokenStart > start {
                    let previous = previousScalarStart(tokenStart, in: text)
                    guard isWhitespace(scalar(at: previous, in: text)) else { break }
                    tokenStart = previous
                }
            }
            if token.rightStrip {
                while tokenEnd < end && isWhitespace(scalar(at: tokenEnd, in: text)) {
                    tokenEnd = nextScalarStart(tokenEnd, in: text)
                }
            }
            if start < tokenStart { output.append(TextSegment(range: start..<tokenStart, id: -1)) }
            output.append(TextSegment(range: tokenStart..<tokenEnd, id: token.id))
            // Hugging Face searches on from the match itself, not from the whitespace `rstrip`
            // took: a token starting inside that whitespace still matches, the space then
            // counting twice. Kept, to give the same ids.
            start = tokenEnd
            i = matchEnd
        }
        if start < end { output.append(TextSegment(range: start..<end, id: -1)) }
    }

    private func longestMatch(_ text: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int? {
        for index in candidates[Int(text[i])] {
            let pattern = patterns[index]
            guard i + pattern.count <= end else { continue }
            var equal = true
            for k in 1..<pattern.count where text[i + k] != pattern[k] {
                equal = false
                break
            }
            if equal { return index }
        }
        return nil
    }

    private func isWhitespace(_ value: UInt32) -> Bool { ScalarText.classify(value) == .whitespace }

    private func nextScalarStart(_ i: Int, in text: UnsafeBufferPointer<UInt8>) -> Int {
        var j = i + 1
        while j < text.count && text[j] & 0xC0 == 0x80 { j += 1 }
        return j
    }

    private func previousScalarStart(_ i: Int, in text: UnsafeBufferPointer<UInt8>) -> Int {
        var j = i - 1
        while j > 0 && text[j] & 0xC0 == 0x80 { j -= 1 }
        return j
    }

    private func scalar(before i: Int, in text: UnsafeBufferPointer<UInt8>) -> UInt32 {
        scalar(at: previousScalarStart(i, in: text), in: text)
    }

    private func scalar(at i: Int, in text: UnsafeBufferPointer<UInt8>) -> UInt32 {
        let lead = text[i]
        if lead < 0x80 { return UInt32(lead) }
        let length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        var value = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        for k in 1..<length { value = value << 6 | UInt32(text[i + k] & 0x3F) }
        return value
    }
}
