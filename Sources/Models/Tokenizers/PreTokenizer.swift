// Pre-tokenization: cutting text into the pieces BPE merges within. Hugging Face describes it
// in tokenizer.json as a list of steps (Split with a regex, Digits, ByteLevel); each step cuts
// every piece of the previous one. The regexes are the few that byte-level BPE models use,
// recognised by their exact text and run as hand-written scanners over the decoded scalars:
// several times faster than a regex engine, and no dependency. A pattern not recognised is
// refused when the tokenizer loads.

/// A Split regex this file implements.
enum SplitPattern: Equatable {
    /// GPT-2's (also what ByteLevel applies with use_regex true):
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// LLaMA-3's, digits in groups of at most three: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|
    /// [^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// Qwen2's (also Qwen2.5, Qwen3) is the same with single digits: `\p{N}` for `\p{N}{1,3}`.
    case llama3(maxDigits: Int)

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    init?(regex: String) {
        switch regex {
        case SplitPattern.gpt2Regex: self = .gpt2
        case SplitPattern.llama3Regex: self = .llama3(maxDigits: 3)
        case SplitPattern.qwen2Regex: self = .llama3(maxDigits: 1)
        default: return nil
        }
    }
}

enum PreTokenizerStep: Equatable {
    /// Split with behavior Isolated, invert false: every match is a piece.
    case split(SplitPattern)
    /// Digits: each \p{N} alone, or runs of them, become pieces.
    case digits(individual: Bool)
    /// ByteLevel: GPT-2's pattern when `useRegex`; the byte mapping itself is implicit, since
    /// this tokenizer works on bytes throughout.
    case byteLevel(useRegex: Bool)
}

struct PreTokenizer: Equatable {
    var steps: [PreTokenizerStep]
    /// ByteLevel's add_prefix_space: each piece reaching the ByteLevel step (the last) that does
    /// not start with a space gets one, as if the text had it.
    var addPrefixSpace = false

    /// The pieces of `text` as scalar index ranges, in order, none empty. With `addPrefixSpace`
    /// the last step is left to `prefixed`.
    func pieces(of text: ScalarText, into output: inout [Range<Int>], scratch: inout [Range<Int>]) {
        output.removeAll(keepingCapacity: true)
        guard text.count > 0 else { return }
        output.append(0..<text.count)
        apply(addPrefixSpace ? steps.dropLast() : steps[...], to: text, pieces: &output, scratch: &scratch)
    }

    /// For `addPrefixSpace`: the pieces' bytes again, a space before each piece lacking one, in
    /// `bytes`, decoded in `text`, and cut by the ByteLevel step into `output`.
    func prefixed(_ pieces: [Range<Int>], of source: ScalarText, _ sourceBytes: UnsafeBufferPointer<UInt8>,
                  bytes: inout [UInt8], text: inout ScalarText, output: inout [Range<Int>], scratch: inout [Range<Int>]) {
        bytes.removeAll(keepingCapacity: true)
        var boundaries: [Int] = [0]  // scalar index where each piece starts in `text`
        var scalars = 0
        for piece in pieces {
            if source.values[piece.lowerBound] != PreTokenizer.space {
                bytes.append(0x20)
                scalars += 1
            }
            bytes.append(contentsOf: sourceBytes[source.offsets[piece.lowerBound]..<source.offsets[piece.upperBound]])
            scalars += piece.count
            boundaries.append(scalars)
        }
        bytes.withUnsafeBufferPointer { text.load($0) }
        output.removeAll(keepingCapacity: true)
        for k in 1..<boundaries.count { output.append(boundaries[k - 1]..<boundaries[k]) }
        apply(steps.suffix(1), to: text, pieces: &output, scratch: &scratch)
    }

    private func apply(_ steps: ArraySlice<PreTokenizerStep>, to text: ScalarText, pieces output: inout [Range<Int>],
                       scratch: inout [Range<Int>]) {
        text.values.withUnsafeBufferPointer { values in
            text.classes.withUnsafeBufferPointer { classes in
                for step in steps {
                    if case .byteLevel(useRegex: false) = step { continue }
                    swap(&output, &scratch)
                    output.removeAll(keepingCapacity: true)
                    for piece in scratch {
                        switch step {
                        case .split(.gpt2), .byteLevel(useRegex: true):
                            PreTokenizer.splitGPT2(values, classes, piece, into: &output)
                        case let .split(.llama3(maxDigits)):
                            PreTokenizer.splitLlama3(values, classes, piece, maxDigits: maxDigits, into: &output)
                        case let .digits(individual):
                            PreTokenizer.splitDigits(classes, piece, individual: individual, into: &output)
                        case .byteLevel(useRegex: false):
                            break
                        }
                    }
                }
            }
        }
    }

    private static let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20
    private static let carriageReturn: UInt32 = 0x0D, lineFeed: UInt32 = 0x0A

    /// Length of the contraction ('s 't 're 've 'm 'll 'd) at `i`, or 0.
    @inline(__always)
    private static func contraction(_ v: UnsafeBufferPointer<UInt32>, _ i: Int, _ end: Int, ignoreCase: Bool) -> Int {
        guard v[i] == apostrophe, i + 1 < end else { return 0 }
        // Under (?i) Oniguruma folds case the Unicode way: 's' also matches U+017F (long s).
        func lower(_ c: UInt32) -> UInt32 {
            guard ignoreCase else { return c }
            if c >= 0x41 && c <= 0x5A { return c + 32 }
            return c == 0x17F ? 0x73 : c
        }
        let first = lower(v[i + 1])
        switch first {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        case 0x72, 0x76:  // r v -> 're 've
            return i + 2 < end && lower(v[i + 2]) == 0x65 ? 3 : 0
        case 0x6C:  // l -> 'll
            return i + 2 < end && lower(v[i + 2]) == 0x6C ? 3 : 0
        default: return 0
        }
    }

    @inline(__always)
    private static func run(_ c: UnsafeBufferPointer<ScalarClass>, _ kind: ScalarClass, from: Int, _ end: Int) -> Int {
        var j = from
        while j < end && c[j] == kind { j += 1 }
        return j
    }

    /// End of a whitespace run starting at `i` as `\s+(?!\S)|\s+` matches it: up to the end, or
    /// leaving the last whitespace character to the word that follows.
    @inline(__always)
    private static func whitespaceEnd(_ c: UnsafeBufferPointer<ScalarClass>, _ i: Int, _ end: Int) -> Int {
        let j = run(c, .whitespace, from: i + 1, end)
        return j < end && j - i >= 2 ? j - 1 : j
    }

    static func splitGPT2(_ v: UnsafeBufferPointer<UInt32>, _ c: UnsafeBufferPointer<ScalarClass>,
                          _ piece: Range<Int>, into output: inout [Range<Int>]) {
        var i = piece.lowerBound
        let end = piece.upperBound
        while i < end {
            let start = i
            let kind = c[i]
            // The optional leading space of ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`.
            let next: ScalarClass? = v[i] == space && i + 1 < end ? c[i + 1] : nil
            let contracted = contraction(v, i, end, ignoreCase: false)
            if contracted > 0 {
                i += contracted
            } else if kind != .whitespace {
                i = run(c, kind, from: i + 1, end)
            } else if let next, next != .whitespace {
                i = run(c, next, from: i + 2, end)
            } else {
                i = whitespaceEnd(c, i, end)
            }
            output.append(start..<i)
        }
    }

    static func splitLlama3(_ v: UnsafeBufferPointer<UInt32>, _ c: UnsafeBufferPointer<ScalarClass>,
                            _ piece: Range<Int>, maxDigits: Int, into output: inout [Range<Int>]) {
        var i = piece.lowerBound
        let end = piece.upperBound
        while i < end {
            let start = i
            let kind = c[i]
            let value = v[i]
            let isNewline = value == carriageReturn || value == lineFeed
            let contracted = contraction(v, i, end, ignoreCase: true)
            if contracted > 0 {
                i += contracted
            } else if kind == .letter {
                i = run(c, .letter, from: i + 1, end)
            } else if kind != .number && !isNewline && i + 1 < end && c[i + 1] == .letter {
                // [^\r\n\p{L}\p{N}]?\p{L}+: one non-letter (space, punctuation...) leads a word.
                i = run(c, .letter, from: i + 2, end)
            } else if kind == .number {
                let limit = min(end, i + maxDigits)
                i = run(c, .number, from: i + 1, limit)
            } else if kind == .other || (value == space && i + 1 < end && c[i + 1] == .other) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                i = run(c, .other, from: kind == .other ? i + 1 : i + 2, end)
                while i < end && (v[i] == carriageReturn || v[i] == lineFeed) { i += 1 }
            } else {
                // `\s*[\r\n]+` ends after the last line break of the whitespace run, if it has one.
                let j = run(c, .whitespace, from: i + 1, end)
                var lastBreak = -1
                var k = j - 1
                while k >= i {
                    if v[k] == carriageReturn || v[k] == lineFeed { lastBreak = k; break }
                    k -= 1
                }
                i = lastBreak >= 0 ? lastBreak + 1 : whitespaceEnd(c, i, end)
            }
            output.append(start..<i)
        }
    }

    static func splitDigits(_ c: UnsafeBufferPointer<ScalarClass>, _ piece: Range<Int>, individual: Bool,
                            into output: inout [Range<Int>]) {
        var i = piece.lowerBound
        let end = piece.upperBound
        while i < end {
            let start = i
            if c[i] == .number {
                i = individual ? i + 1 : run(c, .number, from: i + 1, end)
            } else {
                while i < end && c[i] != .number { i += 1 }
            }
            output.append(start..<i)
        }
    }
}
