// The SentencePiece-style parts of a tokenizer.json (LLaMA-2, Mistral, Gemma): spaces become
// the marker "▁" (by a Replace normalizer or the Metaspace pre-tokenizer), a "▁" may be put
// before the text (Prepend normalizer; Metaspace's prepend_scheme), words may be cut before
// each "▁" (Metaspace split), and decoding turns "▁" back into spaces, <0xNN> tokens into
// their bytes (ByteFallback), and strips the leading space (Strip after Fuse; Metaspace's
// first token). Each component is checked against what SentencePieceBPETokenizer follows
// exactly; anything else is refused by name.

import TensorIO

struct SentencePieceSettings: Equatable, Sendable {
    enum PrependScheme: String, Sendable { case first, always, never }

    static let marker = "\u{2581}"
    static let markerBytes: [UInt8] = Array(marker.utf8)

    /// Normalizer Prepend("▁"): every stretch of text between added tokens starts with ▁.
    var prependsMarker = false
    /// Normalizer Replace(" ", "▁").
    var replacesSpaces = false
    /// The Metaspace pre-tokenizer's prepend scheme; nil without Metaspace.
    var metaspace: PrependScheme?
    /// Metaspace split: words are cut before each ▁ (the ▁ starting the next word).
    var splitsAtMarker = false

    /// The decoder turns ▁ into a space (Replace, Metaspace).
    var decodesMarker = false
    /// ByteFallback: <0xNN> tokens decode to their byte.
    var decodesByteFallback = false
    /// Strip(" ", n, 0) after Fuse: up to n leading spaces of the text are removed.
    var strippedLeadingSpaces = 0
    /// The Metaspace decoder (prepend scheme first or always) drops the ▁s of the first token.
    var dropsFirstTokenMarkers = false

    /// The settings of a SentencePiece-style tokenizer.json, nil when it is not one (no
    /// Metaspace pre-tokenizer, nor a normalizer replacing spaces by ▁ without a pre-tokenizer).
    init?(root: JSONValue, path: String) throws {
        let preTokenizer = root["pre_tokenizer"].flatMap { $0 == .null ? nil : $0 }
        let normalizer = root["normalizer"].flatMap { $0 == .null ? nil : $0 }
        let normalizers = normalizer.map { $0["type"]?.stringValue == "Sequence" ? $0["normalizers"]?.arrayValue ?? [] : [$0] } ?? []
        let replaces = normalizers.contains { $0["type"]?.stringValue == "Replace" && $0["content"]?.stringValue == Self.marker }
        guard preTokenizer?["type"]?.stringValue == "Metaspace" || (preTokenizer == nil && replaces) else { return nil }

        func refuse(_ component: String, _ detail: String) -> TokenizerError {
            .unsupportedComponent(path: path, component: component, detail: detail)
        }
        for item in normalizers {
            switch item["type"]?.stringValue ?? "unknown" {
            case "Prepend" where item["prepend"]?.stringValue == Self.marker:
                prependsMarker = true
            case "Replace" where item["pattern"]?["String"]?.stringValue == " " && item["content"]?.stringValue == Self.marker:
                replacesSpaces = true
            case let type:
                throw refuse("normalizer", "\(type) in a SentencePiece-style tokenizer (Prepend(\"▁\") and Replace(\" \", \"▁\") are supported)")
            }
        }
        if let preTokenizer {
            try readMetaspace(preTokenizer, component: "pre_tokenizer", path: path)
        }

        guard let decoder = root["decoder"].flatMap({ $0 == .null ? nil : $0 }) else {
            throw refuse("decoder", "none in a SentencePiece-style tokenizer")
        }
        let decoders = decoder["type"]?.stringValue == "Sequence" ? decoder["decoders"]?.arrayValue ?? [] : [decoder]
        var fused = false
        for item in decoders {
            switch item["type"]?.stringValue ?? "unknown" {
            case "Replace" where item["pattern"]?["String"]?.stringValue == Self.marker && item["content"]?.stringValue == " ":
                decodesMarker = true
            case "ByteFallback":
                decodesByteFallback = true
            case "Fuse":
                fused = true
            case "Strip" where fused && item["content"]?.stringValue == " " && item["stop"]?.intValue == 0:
                strippedLeadingSpaces = item["start"]?.intValue ?? 0
            case "Metaspace":
                guard item["replacement"]?.stringValue == Self.marker else { throw refuse("decoder", "Metaspace with another replacement") }
                decodesMarker = true
                dropsFirstTokenMarkers = Self.prependScheme(item) != .never
            case let type:
                throw refuse("decoder", "\(type) in a SentencePiece-style tokenizer (Replace(\"▁\", \" \"), ByteFallback, Fuse, Strip(\" \", n, 0) after Fuse, Metaspace are supported)")
            }
        }
    }

    private mutating func readMetaspace(_ value: JSONValue, component: String, path: String) throws {
        guard value["type"]?.stringValue == "Metaspace" else {
            throw TokenizerError.unsupportedComponent(path: path, component: component, detail: value["type"]?.stringValue ?? "unknown")
        }
        guard value["replacement"]?.stringValue == Self.marker else {
            throw TokenizerError.unsupportedComponent(path: path, component: component, detail: "Metaspace with a replacement other than ▁")
        }
        metaspace = Self.prependScheme(value)
        splitsAtMarker = value["split"]?.boolValue ?? true
    }

    /// prepend_scheme, or the older add_prefix_space (true: always).
    private static func prependScheme(_ value: JSONValue) -> PrependScheme {
        if let scheme = value["prepend_scheme"]?.stringValue.flatMap(PrependScheme.init(rawValue:)) { return scheme }
        return value["add_prefix_space"]?.boolValue == false ? .never : .always
    }

    /// An added token's content as the normalizer changes it (Hugging Face matches tokens
    /// with normalized true in the normalized text, by their normalized content).
    func normalized(_ content: String) -> String {
        var text = replacesSpaces ? content.replacingOccurrences(of: " ", with: Self.marker) : content
        if prependsMarker && !text.isEmpty { text = Self.marker + text }
        return text
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
