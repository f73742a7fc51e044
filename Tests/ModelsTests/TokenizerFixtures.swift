// The tokenizer fixtures made by fixtures/generators/tokenizers.py: small byte-level BPE
// tokenizers configured like GPT-2, LLaMA-3 and SmolLM, and the ids Hugging Face gives; and
// the SentencePiece-style ones of fixtures/generators/sentencepiece.py (LLaMA-2, Mistral, Gemma).

import Testing
import TensorIO
@testable import Models

enum TokenizerFixtures {
    /// fixtures/tokenizers, found from this file's path.
    static let directory: String = {
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/ModelsTests/TokenizerFixtures.swift
        return components.joined(separator: "/") + "/fixtures/tokenizers"
    }()

    /// The tokenizers whose fixtures follow real models.
    static let realistic = ["gpt2", "llama3", "smollm"]
    /// qwen2: NFC normalizer (its decoded text is the composed text, so not in `realistic`'s round trips).
    static let all = realistic + ["added-options", "prefix-space", "qwen2"]

    struct Case {
        var text: String
        var ids: [Int32]
        var idsWithSpecial: [Int32]
        var decoded: String
        var decodedSkipSpecial: String
    }

    struct Expected {
        var vocabularySize: Int
        var cases: [Case]
        var prefixDecodes: [(ids: [Int32], decoded: String)]
    }

    static func tokenizer(_ name: String) throws -> ByteLevelBPETokenizer {
        try #require(try TokenizerLoader.load(modelDirectory: directory + "/" + name) as? ByteLevelBPETokenizer)
    }

    /// SentencePiece-style fixtures (fixtures/generators/sentencepiece.py): LLaMA-2 (legacy
    /// normalizer), Metaspace (first, no split), Metaspace split with ignore_merges, Gemma.
    static let sentencePiece = ["llama2", "metaspace", "metaspace-split", "gemma"]

    static func sentencePieceTokenizer(_ name: String) throws -> SentencePieceBPETokenizer {
        try #require(try TokenizerLoader.load(modelDirectory: directory + "/" + name) as? SentencePieceBPETokenizer)
    }

    static func expected(_ name: String) throws -> Expected {
        let root = try TokenizerDefinition.readJSON(directory + "/\(name)-expected.json")
        func ids(_ value: JSONValue?) -> [Int32] { (value?.arrayValue ?? []).map { Int32($0.intValue!) } }
        let cases = (root["cases"]?.arrayValue ?? []).map { item in
            Case(text: item["text"]!.stringValue!, ids: ids(item["ids"]), idsWithSpecial: ids(item["ids_with_special"]),
                 decoded: item["decoded"]!.stringValue!, decodedSkipSpecial: item["decoded_skip_special"]!.stringValue!)
        }
        let prefixes = (root["prefix_decodes"]?.arrayValue ?? []).map { item in
            (ids: ids(item["ids"]), decoded: item["decoded"]!.stringValue!)
        }
        return Expected(vocabularySize: root["vocab_size"]!.intValue!, cases: cases, prefixDecodes: prefixes)
    }
}

extension String {
    /// Swift compares strings by canonical equivalence ("e\u{301}" == "é"); tokenizers must not.
    var scalarsForComparison: [UInt32] { unicodeScalars.map(\.value) }
}
