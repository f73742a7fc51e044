// The two merge loops (small arrays for short words, a heap for long ones) pick the same merges.

import Testing
@testable import Models

@Suite struct TokenizerMergeLoopTests {
    @Test(arguments: TokenizerFixtures.realistic)
    func heapAndArrayLoopsAgreeOnEveryFixtureWord(name: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let model = tokenizer.model
        var words: [[UInt8]] = []
        for item in try TokenizerFixtures.expected(name).cases {
            for word in item.text.split(whereSeparator: { $0 == " " }) { words.append(Array(word.utf8)) }
            words.append(Array(item.text.utf8))
        }
        var compared = 0
        var pairs: [UInt64] = []
        for word in words where word.count > 1 {
            let bytes = word.map { model.byteIds[Int($0)] }
            var small = bytes
            model.mergeSmall(&small, pairs: &pairs)
            var heap = bytes
            model.mergeWithHeap(&heap)
            #expect(small == heap, "\(name): \(String(decoding: word, as: UTF8.self).debugDescription)")
            if small.count < bytes.count { compared += 1 }
        }
        #expect(compared > 500)
    }
}
