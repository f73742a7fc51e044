// Which files a model directory's tokenizer comes from, and the special ids it reports.

import Foundation
import Testing
@testable import Models

@Suite struct TokenizerLoadingTests {
    @Test func gpt2EndOfTextIsItsSpecialTokenAndNoBosIsAdded() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("gpt2")
        let cases = try TokenizerFixtures.expected("gpt2").cases
        let endOfText = try #require(cases.first { $0.text == "<|endoftext|>" })
        #expect([try #require(tokenizer.endOfTextId)] == endOfText.ids)
        #expect(tokenizer.bosId == tokenizer.endOfTextId)  // tokenizer_config.json says so
        #expect(tokenizer.encode("Hello", addSpecialTokens: true) == tokenizer.encode("Hello", addSpecialTokens: false))
    }

    @Test func llama3AddsBeginOfTextAndEndsWithEndOfText() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("llama3")
        let empty = try #require(try TokenizerFixtures.expected("llama3").cases.first { $0.text.isEmpty })
        #expect(empty.idsWithSpecial.count == 1)
        #expect(tokenizer.bosId == empty.idsWithSpecial.first)
        #expect(tokenizer.id(forToken: "<|begin_of_text|>") == tokenizer.bosId)
        #expect(tokenizer.endOfTextId == tokenizer.id(forToken: "<|end_of_text|>"))
        #expect(tokenizer.endOfTextId != nil)
    }

    /// Without tokenizer_config.json the BOS comes from the template, the end of text from the
    /// usual names.
    @Test func specialIdsAreGuessedWithoutTokenizerConfig() throws {
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.directory + "/llama3/tokenizer.json")
        let configured = try TokenizerFixtures.tokenizer("llama3")
        #expect(tokenizer.bosId == configured.bosId)
        #expect(tokenizer.endOfTextId == configured.endOfTextId)
    }

    @Test func smollmSpecialTokensTakeTheFirstIds() throws {
        let tokenizer = try TokenizerFixtures.tokenizer("smollm")
        #expect(tokenizer.id(forToken: "<|endoftext|>") == 0)
        #expect(tokenizer.id(forToken: "<|im_start|>") == 1)
        #expect(tokenizer.endOfTextId == 0)
        #expect(tokenizer.isSpecialToken(2))
        #expect(!tokenizer.isSpecialToken(tokenizer.encode("a")[0]))
    }

    @Test func tokenizerJSONIsPreferredOverVocabularyAndMerges() throws {
        let directory = try TemporaryDirectory()
        let source = TokenizerFixtures.directory + "/gpt2/"
        try FileManager.default.copyItem(atPath: source + "tokenizer.json", toPath: directory.path + "/tokenizer.json")
        try "not json".write(toFile: directory.path + "/vocab.json", atomically: true, encoding: .utf8)
        try "#version: 0.2\n".write(toFile: directory.path + "/merges.txt", atomically: true, encoding: .utf8)
        let tokenizer = try TokenizerLoader.load(modelDirectory: directory.path)
        #expect(tokenizer.encode("Hello world") == (try TokenizerFixtures.tokenizer("gpt2")).encode("Hello world"))
    }

    @Test func vocabularyAndMergesAloneAreEnough() throws {
        let directory = try TemporaryDirectory()
        let source = TokenizerFixtures.directory + "/gpt2/"
        for file in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(atPath: source + file, toPath: directory.path + "/" + file)
        }
        let tokenizer = try TokenizerLoader.load(modelDirectory: directory.path)
        let text = "It's 2024 <|endoftext|> naïve"
        #expect(tokenizer.encode(text) == (try TokenizerFixtures.tokenizer("gpt2")).encode(text))
        #expect(tokenizer.endOfTextId == tokenizer.id(forToken: "<|endoftext|>"))
    }
}

/// A fresh directory under the system temporary directory, removed with the value.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "loft-tokenizer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}
