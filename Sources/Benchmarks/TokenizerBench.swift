// Tokenizing a megabyte of text: every fixture text of a tokenizer's expected-ids file
// (mixed scripts, CJK, emoji, whitespace runs) repeated to 1 MB, or its English paragraph.

import ArgumentParser
import Foundation
import Models
import TensorIO

struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Encode/decode 1 MB with the fixture tokenizers (MB/s, parallel and on one core).")

    @Option(help: "The tokenizer fixtures directory (NAME/tokenizer.json and NAME-expected.json).")
    var fixtures = "fixtures/tokenizers"
    @Option(parsing: .upToNextOption, help: "Tokenizers to time.") var names = ["gpt2", "llama3", "smollm"]

    func run() throws {
        for name in names {
            for kind in ["mixed", "prose"] { try measure(name: name, kind: kind) }
        }
    }

    private func measure(name: String, kind: String) throws {
        var start = Date()
        let tokenizer = try TokenizerLoader.load(modelDirectory: fixtures + "/" + name)
        let loadSeconds = Date().timeIntervalSince(start)
        let root = try JSONFile.read(fixtures + "/\(name)-expected.json")
        let texts = (root["cases"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
        let pieces = kind == "mixed" ? texts : texts.filter { $0.hasPrefix("The quick brown fox") }
        guard !pieces.isEmpty else { throw ValidationError("\(name): no \(kind) texts in its expected-ids file") }
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
        let megabytes = Double(text.utf8.count) / 1_048_576
        print(String(format: "%@ %@: load %.1f ms; encode %.2f MB in %.1f ms (%.1f MB/s, %d tokens), on one core %.1f ms; decode %.1f ms%@",
                     name, kind, loadSeconds * 1000, megabytes, best * 1000, megabytes / best, ids.count, sequentialBest * 1000,
                     decodeSeconds * 1000, decoded == Array(text.utf8) ? "" : " (DECODE MISMATCH)"))
    }
}
