// decode(encode(text)) gives the text back, byte for byte, and ids decode in any grouping.

import Testing
@testable import Models

@Suite struct TokenizerRoundTripTests {
    /// Every fixture text (including NUL, lone combining marks, ZWJ sequences, CR LF) comes back
    /// exactly; "added-options" is left out since its lstrip/rstrip tokens swallow whitespace.
    @Test(arguments: TokenizerFixtures.realistic)
    func decodeOfEncodeGivesTheTextBack(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        for item in try TokenizerFixtures.expected(name).cases {
            let ids = tokenizer.encode(item.text, addSpecialTokens: false)
            #expect(tokenizer.decodeBytes(ids, skipSpecialTokens: false) == Array(item.text.utf8),
                    "\(name): \(item.text.debugDescription)")
            #expect(tokenizer.decode(ids).scalarsForComparison == item.text.scalarsForComparison)
        }
    }

    /// The bytes of the ids one at a time, concatenated, are the text's bytes: nothing is lost
    /// when a character's bytes are split across tokens.
    @Test(arguments: TokenizerFixtures.realistic)
    func tokensSplitCharactersButTheirBytesConcatenate(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let text = "emoji 👨‍👩‍👧‍👦🇫🇷 and CJK 東京 and a rare 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
        let ids = tokenizer.encode(text)
        let pieces = ids.map { tokenizer.decodeBytes([$0], skipSpecialTokens: false) }
        #expect(pieces.contains { String(validating: $0, as: UTF8.self) == nil }, "some token holds part of a character")
        #expect(Array(pieces.joined()) == Array(text.utf8))
    }

    @Test func specialTokensAreSkippedOnRequest() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("llama3")
        let ids = tokenizer.encode("<|start_header_id|>user<|end_header_id|>hi", addSpecialTokens: true)
        #expect(ids.first == tokenizer.bosId)
        #expect(tokenizer.decode(ids) == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>hi")
        #expect(tokenizer.decode(ids, skipSpecialTokens: true) == "userhi")
    }

    @Test func idsOutsideTheVocabularyAreSkippedWhenDecoding() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2")
        let ids = tokenizer.encode("Hello")
        #expect(tokenizer.decode([-1] + ids + [Int32(tokenizer.vocabularySize)]) == "Hello")
    }

    /// A 100 000-letter word and a 50 000-space run are single pieces: the heap path of the
    /// merge loop keeps them fast.
    @Test(arguments: TokenizerFixtures.realistic)
    func longWordsAndWhitespaceRunsRoundTrip(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        for text in [String(repeating: "a", count: 100_000), String(repeating: " ", count: 50_000) + "x",
                     String(repeating: "theory", count: 20_000), String(repeating: "\n", count: 10_000)] {
            let ids = tokenizer.encode(text)
            #expect(tokenizer.decodeBytes(ids, skipSpecialTokens: false) == Array(text.utf8))
        }
    }
}
