// Ids and decoded text equal to Hugging Face tokenizers on every fixture text: contractions,
// whitespace runs, tabs and newlines, digits, punctuation, accents, emoji, CJK, RTL, special
// tokens inside the text, 300 random strings of mixed scripts.

import Testing
@testable import Models

@Suite struct TokenizerHuggingFaceTests {
    @Test(arguments: TokenizerFixtures.all)
    func idsEqualHuggingFace(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let expected = try TokenizerFixtures.expected(name)
        #expect(expected.cases.count > 300)
        for item in expected.cases {
            let ids = tokenizer.encode(item.text, addSpecialTokens: false)
            #expect(ids == item.ids, "\(name): \(item.text.debugDescription)")
        }
    }

    @Test(arguments: TokenizerFixtures.all)
    func idsWithSpecialTokensEqualHuggingFace(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        for item in try TokenizerFixtures.expected(name).cases {
            let ids = tokenizer.encode(item.text, addSpecialTokens: true)
            #expect(ids == item.idsWithSpecial, "\(name): \(item.text.debugDescription)")
        }
    }

    @Test(arguments: TokenizerFixtures.all)
    func decodedTextEqualsHuggingFace(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        for item in try TokenizerFixtures.expected(name).cases {
            #expect(tokenizer.decode(item.ids).scalarsForComparison == item.decoded.scalarsForComparison,
                    "\(name): \(item.text.debugDescription)")
            let skipped = tokenizer.decode(item.idsWithSpecial, skipSpecialTokens: true)
            #expect(skipped.scalarsForComparison == item.decodedSkipSpecial.scalarsForComparison,
                    "\(name): \(item.text.debugDescription)")
        }
    }

    /// Every prefix of the ids of "a😀b日本👍🏽é": most end inside a UTF-8 sequence, which
    /// Hugging Face decodes to U+FFFD per maximal invalid subpart.
    @Test(arguments: TokenizerFixtures.all)
    func decodingPrefixesEndingInsideCharactersEqualsHuggingFace(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let prefixes = try TokenizerFixtures.expected(name).prefixDecodes
        #expect(prefixes.contains { $0.decoded.unicodeScalars.contains("\u{FFFD}") })
        for prefix in prefixes {
            #expect(tokenizer.decode(prefix.ids).scalarsForComparison == prefix.decoded.scalarsForComparison,
                    "\(name): \(prefix.ids)")
        }
    }

    @Test(arguments: TokenizerFixtures.all)
    func vocabularySizeCountsAddedTokens(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        #expect(tokenizer.vocabularySize == (try TokenizerFixtures.expected(name).vocabularySize))
    }

    /// GPT-2's original files give the same ids as its tokenizer.json (the generator checked
    /// them against transformers' GPT2Tokenizer on those files and OpenAI's algorithm).
    @Test func gpt2VocabularyAndMergesFilesGiveTheSameIds() throws {
        let directory = TokenizerFixtures.directory + "/gpt2"
        let tokenizer = try ByteLevelBPETokenizer(vocabularyFile: directory + "/vocab.json",
                                                  mergesFile: directory + "/merges.txt")
        for item in try TokenizerFixtures.expected("gpt2").cases {
            #expect(tokenizer.encode(item.text, addSpecialTokens: false) == item.ids, "\(item.text.debugDescription)")
        }
    }
}

@Suite struct TokenizerIgnoreMergesTests {
    /// The LLaMA-3 fixture has words in its vocabulary that its merges do not build (as the real
    /// one has); only with ignore_merges honoured are they single tokens, as Hugging Face gives.
    @Test func llama3FixtureDependsOnIgnoreMerges() throws {
        var definition = try TokenizerDefinition(tokenizerJSON: TokenizerFixtures.directory + "/llama3/tokenizer.json")
        #expect(definition.ignoreMerges)
        definition.ignoreMerges = false
        let mergingEverything = try ByteLevelBPETokenizer(definition)
        let cases = try TokenizerFixtures.expected("llama3").cases
        let differing = cases.filter { mergingEverything.encode($0.text) != $0.ids }
        #expect(differing.count >= 1)
        #expect(differing.contains { $0.text.hasPrefix("qqqq zzzz") })
    }
}
