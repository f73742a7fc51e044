// Long texts are encoded on every core; the ids do not depend on it.

import Testing
@testable import Models

@Suite struct TokenizerParallelTests {
    /// Above 256 KB the text is cut between words and encoded on every core; the ids are those
    /// of one sequential pass.
    @Test(arguments: TokenizerFixtures.all)
    func parallelEncodingEqualsSequential(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let texts = try TokenizerFixtures.expected(name).cases.map(\.text)
        var text = ""
        while text.utf8.count < 3 * ByteLevelBPETokenizer.parallelMinimumBytes / 2 {
            text += texts.joined(separator: " word ")
        }
        var parallel: [Int32] = []
        var sequential: [Int32] = []
        text.withUTF8 { bytes in
            tokenizer.encodeUTF8(bytes, into: &parallel, parallel: true)
            tokenizer.encodeUTF8(bytes, into: &sequential, parallel: false)
            let cuts = ByteLevelBPETokenizer.cutForParallelWork([TextSegment(range: 0..<bytes.count, id: -1)], bytes, every: 1 << 15)
            #expect(cuts.count > 8)
        }
        #expect(parallel == sequential)
    }
}
