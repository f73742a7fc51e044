// Files that cannot be loaded: each error names the file and the problem, and tokenizers this
// implementation would not reproduce exactly are refused rather than approximated.

import Foundation
import Testing
import TensorIO
@testable import Models

@Suite struct TokenizerErrorTests {
    /// The GPT-2 fixture's tokenizer.json with `change` applied to its JSON, written to a
    /// temporary directory.
    func editedGPT2(_ directory: TemporaryDirectory, _ change: (inout [JSONMember]) -> Void) throws -> String {
        var root = try TokenizerDefinition.readJSON(TokenizerFixtures.directory + "/gpt2/tokenizer.json").objectMembers!
        change(&root)
        return try directory.write("tokenizer.json", JSON.serialize(.object(root), style: .compact))
    }

    func replace(_ members: inout [JSONMember], _ key: String, _ value: JSONValue) {
        members[members.firstIndex { $0.key == key }!].value = value
    }

    func loadError(_ path: String) -> TokenizerError? {
        do {
            _ = try ByteLevelBPETokenizer(tokenizerJSON: path)
            return nil
        } catch {
            return error as? TokenizerError
        }
    }

    @Test func missingFileIsNamed() {
        let error = loadError("/nonexistent/tokenizer.json")
        #expect(error == .missingFile(path: "/nonexistent/tokenizer.json"))
        #expect(error?.description == "/nonexistent/tokenizer.json: no such file")
    }

    @Test func directoryWithoutTokenizerFilesIsRefused() throws {
        let directory = try TemporaryDirectory()
        _ = try directory.write("vocab.json", "{}")  // merges.txt missing
        #expect(throws: TokenizerError.noTokenizerFiles(directory: directory.path)) {
            try TokenizerLoader.load(modelDirectory: directory.path)
        }
    }

    @Test func invalidJSONNamesTheFile() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("tokenizer.json", #"{"model": {"type": "BPE", "vocab": {"a": 0,}}}"#)
        guard case let .invalidJSON(errorPath, _) = loadError(path) else {
            Issue.record("expected invalidJSON")
            return
        }
        #expect(errorPath == path)
    }

    @Test func mergeOfAnUnknownTokenNamesTheMergeAndToken() throws {
        let directory = try TemporaryDirectory()
        let vocab = try directory.write("vocab.json", #"{"a": 0, "b": 1, "ab": 2}"#)
        let merges = try directory.write("merges.txt", "#version: 0.2\na b\nab zz\n")
        let error = #expect(throws: TokenizerError.self) {
            try ByteLevelBPETokenizer(vocabularyFile: vocab, mergesFile: merges)
        }
        #expect(error == .unknownMergeToken(path: vocab, line: 3, token: "zz"))
        #expect(error?.description.contains("merge 3 refers to \"zz\"") == true)
    }

    @Test func mergeWithoutItsResultInTheVocabularyIsRefused() throws {
        let directory = try TemporaryDirectory()
        let vocab = try directory.write("vocab.json", #"{"a": 0, "b": 1}"#)
        let merges = try directory.write("merges.txt", "a b\n")
        #expect(throws: TokenizerError.unknownMergeToken(path: vocab, line: 1, token: "ab")) {
            try ByteLevelBPETokenizer(vocabularyFile: vocab, mergesFile: merges)
        }
    }

    @Test func malformedMergeLineIsRefused() throws {
        let directory = try TemporaryDirectory()
        let vocab = try directory.write("vocab.json", #"{"a": 0, "b": 1, "ab": 2}"#)
        let merges = try directory.write("merges.txt", "#version: 0.2\na b c\n")
        #expect(throws: TokenizerError.malformedMerge(path: merges, line: 2, text: "a b c")) {
            try ByteLevelBPETokenizer(vocabularyFile: vocab, mergesFile: merges)
        }
    }

    @Test(arguments: ["Unigram", "WordPiece", "WordLevel"])
    func otherModelTypesAreRefused(type: String) throws {
        let directory = try TemporaryDirectory()
        let path = try editedGPT2(directory) { root in
            self.replace(&root, "model", .object([JSONMember("type", .string(type)), JSONMember("vocab", .array([]))]))
        }
        #expect(loadError(path) == .unsupportedModel(path: path, type: type))
        #expect(loadError(path)?.description.contains("unsupported tokenizer model \(type)") == true)
    }

    @Test func unknownSplitRegexIsRefused() throws {
        let directory = try TemporaryDirectory()
        let regex = #"\w+|[^\w\s]+"#
        let path = try editedGPT2(directory) { root in
            self.replace(&root, "pre_tokenizer", .object([
                JSONMember("type", .string("Sequence")),
                JSONMember("pretokenizers", .array([
                    .object([JSONMember("type", .string("Split")),
                             JSONMember("pattern", .object([JSONMember("Regex", .string(regex))])),
                             JSONMember("behavior", .string("Isolated")), JSONMember("invert", .bool(false))]),
                    .object([JSONMember("type", .string("ByteLevel")), JSONMember("add_prefix_space", .bool(false)),
                             JSONMember("use_regex", .bool(false))]),
                ])),
            ]))
        }
        #expect(loadError(path) == .unsupportedComponent(path: path, component: "pre_tokenizer", detail: "Split regex \(regex)"))
    }

    /// A Metaspace pre-tokenizer makes a SentencePiece-style tokenizer, read by its own
    /// rules: one without the ▁ replacement is refused.
    @Test func nonByteLevelPreTokenizerIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = try editedGPT2(directory) { root in
            self.replace(&root, "pre_tokenizer", .object([JSONMember("type", .string("Metaspace"))]))
        }
        #expect(loadError(path) == .unsupportedComponent(path: path, component: "pre_tokenizer", detail: "Metaspace with a replacement other than ▁"))
    }

    @Test func normalizerIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = try editedGPT2(directory) { root in
            self.replace(&root, "normalizer", .object([JSONMember("type", .string("NFKC"))]))
        }
        #expect(loadError(path) == .unsupportedComponent(path: path, component: "normalizer", detail: "NFKC"))
    }

    @Test func missingVocabularyIsAFormatError() throws {
        let directory = try TemporaryDirectory()
        let path = try editedGPT2(directory) { root in
            self.replace(&root, "model", .object([JSONMember("type", .string("BPE")), JSONMember("merges", .array([]))]))
        }
        #expect(loadError(path) == .invalidFormat(path: path, problem: "model.vocab is not an object"))
    }
}
