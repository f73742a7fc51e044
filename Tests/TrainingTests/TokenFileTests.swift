// Token files: .npy of uint16 / int32 / int64 (any shape, C order), raw uint16 .bin, text
// through the model directory's tokenizer; everything else refused with the file named.

import Foundation
import Testing
@testable import Training

@Suite struct TokenFileTests {
    let expected = (try? TrainingFixtures.json("token-files.json"))?["ids"]?.arrayValue?.compactMap(\.intValue).map(Int64.init) ?? []

    @Test(arguments: ["tokens-u16.npy", "tokens-i32.npy", "tokens-i64.npy", "tokens.bin"])
    func readsWhatNumPyWrote(file: String) throws {
        #expect(!expected.isEmpty)
        #expect(try TokenFile.read(path: TrainingFixtures.path(file)) == expected)
    }

    @Test func refusesFloatTokens() {
        let path = TrainingFixtures.path("tokens-f32.npy")
        #expect(throws: TrainingError.wrongTokenDType(path: path, dtype: "F32")) { try TokenFile.read(path: path) }
    }

    @Test func refusesIdsOutsideTheVocabulary() {
        let path = TrainingFixtures.path("tokens-u16.npy")
        // The fixture holds 65535 at index 7 (and 2000 at index 6).
        #expect(throws: TrainingError.tokenOutOfVocabulary(path: path, index: 6, id: 2000, vocabularySize: 2000)) {
            try TokenFile.tokens(path: path, vocabularySize: 2000) { throw TrainingError.noTokenizer(path: path, reason: "no tokenizer needed") }
        }
    }

    @Test func refusesAnOddLengthBinFile() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/odd.bin"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 0, 2]))
        #expect(throws: TrainingError.self) { try TokenFile.read(path: path) }
    }

    @Test func textIsTokenizedLikeHuggingFace() throws {
        let ids = try TokenFile.tokens(path: TrainingFixtures.path("text.txt"), vocabularySize: 2001) {
            try TokenFile.tokenizer(modelPath: TrainingFixtures.path("gpt2"))
        }
        let reference = try TokenFile.read(path: TrainingFixtures.path("tokens.npy"))
        #expect(ids.map(Int64.init) == reference)
    }

    @Test func textWithoutATokenizerNamesTheDataFile() throws {
        let data = TrainingFixtures.path("text.txt")
        do {
            _ = try TokenFile.tokens(path: data, vocabularySize: 2001) { try TokenFile.tokenizer(modelPath: "/nonexistent/model") }
            Issue.record("expected an error")
        } catch let TrainingError.noTokenizer(path, _) {
            #expect(path == data)
        }
    }
}
