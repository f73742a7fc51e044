// Each pre-tokenizer step on its own cuts the fixture texts where Hugging Face's does (the
// hand-written scanners against Oniguruma running the real regexes).

import Testing
import TensorIO
@testable import Models

@Suite struct TokenizerPreTokenizerTests {
    static let steps: [(String, PreTokenizerStep)] = [
        ("split-gpt2", .split(.gpt2)),
        ("split-llama3", .split(.llama3(maxDigits: 3))),
        ("bytelevel-regex", .byteLevel(useRegex: true)),
        ("digits-individual", .digits(individual: true)),
        ("digits-grouped", .digits(individual: false)),
    ]

    @Test(arguments: steps.map(\.0))
    func piecesEqualHuggingFace(name: String) throws {
        let step = try #require(Self.steps.first { $0.0 == name }?.1)
        let root = try TokenizerDefinition.readJSON(TokenizerFixtures.directory + "/pre-tokenizer-pieces.json")
        let texts = try #require(root["texts"]?.arrayValue).map { $0.stringValue! }
        let expected = try #require(root[name]?.arrayValue)
        #expect(texts.count == expected.count && texts.count > 100)
        let preTokenizer = PreTokenizer(steps: [step])
        var text = ScalarText()
        var pieces: [Range<Int>] = []
        var scratch: [Range<Int>] = []
        for (item, flat) in zip(texts, expected) {
            var bytes = item
            bytes.withUTF8 { text.load($0) }
            preTokenizer.pieces(of: text, into: &pieces, scratch: &scratch)
            let bounds = flat.arrayValue!.map { $0.intValue! }
            let want = stride(from: 0, to: bounds.count, by: 2).map { bounds[$0]..<bounds[$0 + 1] }
            #expect(pieces == want, "\(name): \(item.debugDescription)")
        }
    }
}
