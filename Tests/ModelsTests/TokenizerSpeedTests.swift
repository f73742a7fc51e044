// Tokenizing a megabyte of mixed text. Runs only with LOFT_TOKENIZER_BENCH=1, meant for a
// release build:
//   swift build -c release --build-tests -Xswiftc -enable-testing
//   LOFT_TOKENIZER_BENCH=1 swift test -c release --skip-build --filter TokenizerSpeedTests

import Foundation
import Testing
@testable import Models

@Suite(.serialized) struct TokenizerSpeedTests {
    static let enabled = ProcessInfo.processInfo.environment["LOFT_TOKENIZER_BENCH"] == "1"

    /// `mixed`: every fixture text (random strings of mixed scripts, CJK, emoji, whitespace
    /// runs, long words) repeated to 1 MB; `prose`: the fixtures' English paragraph repeated.
    @Test(.enabled(if: enabled), arguments: TokenizerFixtures.realistic, ["mixed", "prose"])
    func encodeOneMegabyte(name: String, kind: String) throws {
        var start = Date()
        let tokenizer = try TokenizerFixtures.tokenizer(name)
        let loadSeconds = Date().timeIntervalSince(start)
        let cases = try TokenizerFixtures.expected(name).cases.map(\.text)
        let pieces = kind == "mixed" ? cases : cases.filter { $0.hasPrefix("The quick brown fox") }
        var text = ""
        var round = 0
        while text.utf8.count < 1 << 20 {
            for item in pieces { text += item + (round % 2 == 0 ? " " : "\n") }
            round += 1
        }
        var best = Double.infinity
        var ids: [Int32] = []
        for _ in 0..<5 {
            start = Date()
            ids = tokenizer.encode(text)
            best = min(best, Date().timeIntervalSince(start))
        }
        var sequentialBest = Double.infinity
        for _ in 0..<3 {
            start = Date()
            var sequential: [Int32] = []
            text.withUTF8 { tokenizer.encodeUTF8($0, into: &sequential, parallel: false) }
            sequentialBest = min(sequentialBest, Date().timeIntervalSince(start))
        }
        start = Date()
        let decoded = tokenizer.decodeBytes(ids, skipSpecialTokens: false)
        let decodeSeconds = Date().timeIntervalSince(start)
        #expect(decoded == Array(text.utf8))
        let megabytes = Double(text.utf8.count) / 1_048_576
        print(String(format: "%@ %@: load %.1f ms; encode %.2f MB in %.1f ms (%.1f MB/s, %d tokens), on one core %.1f ms; decode %.1f ms",
                     name, kind, loadSeconds * 1000, megabytes, best * 1000, megabytes / best, ids.count, sequentialBest * 1000, decodeSeconds * 1000))
    }
}
