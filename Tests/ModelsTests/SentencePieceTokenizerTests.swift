// SentencePiece-style BPE (LLaMA-2's Prepend + Replace normalizer, Metaspace with prepend
// scheme first / always and split, Gemma's Replace-only normalizer; byte_fallback, fuse_unk,
// ignore_merges, special tokens, the BOS template, the Replace/ByteFallback/Fuse/Strip and
// Metaspace decoders): ids and decoded text equal to the `tokenizers` library on every fixture
// text (Latin, CJK, emoji, code, whitespace runs, special tokens in the text, 300 random
// strings), as fixtures/generators/sentencepiece.py recorded them.

import Testing
import TensorIO
@testable import Models

@Suite struct SentencePieceTokenizerTests {
    @Test(arguments: TokenizerFixtures.sentencePiece)
    func idsEqualHuggingFace(name: String) throws {
        let tokenizer = try TokenizerFixtures.sentencePieceTokenizer(name)
        let expected = try TokenizerFixtures.expected(name)
        #expect(expected.cases.count > 300)
        #expect(tokenizer.vocabularySize == expected.vocabularySize)
        for item in expected.cases {
            #expect(tokenizer.encode(item.text, addSpecialTokens: false) == item.ids, "\(name): \(item.text.debugDescription)")
            #expect(tokenizer.encode(item.text, addSpecialTokens: true) == item.idsWithSpecial, "\(name): \(item.text.debugDescription)")
        }
    }

    @Test(arguments: TokenizerFixtures.sentencePiece)
    func decodedTextEqualsHuggingFace(name: String) throws {
        let tokenizer = try TokenizerFixtures.sentencePieceTokenizer(name)
        for item in try TokenizerFixtures.expected(name).cases {
            #expect(tokenizer.decode(item.ids).scalarsForComparison == item.decoded.scalarsForComparison,
                    "\(name): \(item.text.debugDescription)")
            #expect(tokenizer.decode(item.idsWithSpecial, skipSpecialTokens: true).scalarsForComparison
                        == item.decodedSkipSpecial.scalarsForComparison, "\(name): \(item.text.debugDescription)")
        }
    }

    /// Prefixes ending inside a character: a run of byte tokens that is not UTF-8 gives one
    /// U+FFFD per byte (ByteFallback), or the tokens' own text (Metaspace decoder).
    @Test(arguments: TokenizerFixtures.sentencePiece)
    func decodingPrefixesEqualsHuggingFace(name: String) throws {
        let tokenizer = try TokenizerFixtures.sentencePieceTokenizer(name)
        for prefix in try TokenizerFixtures.expected(name).prefixDecodes {
            #expect(tokenizer.decode(prefix.ids).scalarsForComparison == prefix.decoded.scalarsForComparison, "\(name): \(prefix.ids)")
        }
    }

    /// Gemma (no prefix, no strip) gives every text back; LLaMA-2 every text without its own
    /// special tokens in it (after one, its normalizer starts the next stretch with ▁). A ▁
    /// written in the text comes back as a space in both, as in Hugging Face.
    @Test(arguments: ["gemma", "llama2"])
    func decodeOfEncodeGivesTheTextBack(name: String) throws {
        let tokenizer = try TokenizerFixtures.sentencePieceTokenizer(name)
        for item in try TokenizerFixtures.expected(name).cases where !["<s>", "</s>", "<unk>", "▁"].contains(where: item.text.contains) {
            let ids = tokenizer.encode(item.text)
            #expect(tokenizer.decode(ids).scalarsForComparison == item.text.scalarsForComparison, "\(name): \(item.text.debugDescription)")
        }
    }

    /// A long stretch without a pre-tokenizer is one BPE word, cut for both cores only where no
    /// merge can cross: the same ids as one core.
    @Test(arguments: ["llama2", "gemma", "metaspace"])
    func parallelEncodingEqualsSequential(name: String) throws {
        let tokenizer = try TokenizerFixtures.sentencePieceTokenizer(name)
        #expect(tokenizer.cutsBeforeMarkers)
        // Without the texts holding special tokens, which would cut the text into short stretches.
        let cases = try TokenizerFixtures.expected(name).cases.map(\.text).filter { !$0.contains("<") }
        var text = ""
        while text.utf8.count < 600_000 { text += cases.joined(separator: " ") + "\n" }
        var parallel: [Int32] = [], sequential: [Int32] = []
        text.withUTF8 { bytes in
            tokenizer.encodeUTF8(bytes, into: &parallel, parallel: true)
            tokenizer.encodeUTF8(bytes, into: &sequential, parallel: false)
        }
        #expect(parallel == sequential)
    }

    @Test func byteFallbackAndSpecialTokens() throws {
        let tokenizer = try TokenizerFixtures.sentencePieceTokenizer("gemma")
        let ids = tokenizer.encode("ꙮ", addSpecialTokens: true)
        #expect(ids == [tokenizer.bosId!] + ["<0xEA>", "<0x99>", "<0xAE>"].map { tokenizer.id(forToken: $0)! })
        #expect(tokenizer.bosId == tokenizer.id(forToken: "<bos>") && tokenizer.endOfTextId == tokenizer.id(forToken: "<eos>"))
        #expect(tokenizer.isSpecialToken(tokenizer.id(forToken: "<end_of_turn>")!))
        #expect(tokenizer.decode(ids, skipSpecialTokens: true) == "ꙮ")
    }

    /// A byte-level reader refuses a SentencePiece-style file (and the loader picks the right one).
    @Test func byteLevelReaderRefusesSentencePiece() throws {
        #expect(throws: TokenizerError.self) {
            try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.directory + "/llama2/tokenizer.json")
        }
    }

    @Test func unsupportedDecoderIsNamed() throws {
        let directory = try TemporaryDirectory()
        var root = try TokenizerDefinition.readJSON(TokenizerFixtures.directory + "/gemma/tokenizer.json").objectMembers!
        root[root.firstIndex { $0.key == "decoder" }!].value = .object([JSONMember("type", .string("CTC"))])
        let path = try directory.write("tokenizer.json", JSON.serialize(.object(root), style: .compact))
        #expect(throws: TokenizerError.unsupportedComponent(path: path, component: "decoder",
                                                            detail: "CTC in a SentencePiece-style tokenizer (Replace(\"▁\", \" \"), ByteFallback, Fuse, Strip(\" \", n, 0) after Fuse, Metaspace are supported)")) {
            try TokenizerLoader.load(modelDirectory: directory.path)
        }
    }
}
