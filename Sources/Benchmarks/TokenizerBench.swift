// Tokenizing a megabyte of text: every fixture text of a tokenizer's expected-ids file
// (mixed scripts, CJK, emoji, whitespace runs) repeated to 1 MB, or its English paragraph;
// or a given file (--text, as scripts/bench/bench_tokenizers.py times both loft and the
// `tokenizers` library on the same bytes), with --json one object per tokenizer.

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
    @Option(help: "Time this UTF-8 file instead of the fixture texts.") var text: String?
    @Flag(help: "One JSON object per tokenizer.") var json = false

    func run() throws {
        for name in names {
            if let text {
                try measure(name: name, kind: "file", file: text)
            } else {
                for kind in ["mixed", "prose"] { try measure(name: name, kind: kind) }
            }
        }
    }

    private func measure(name: String, kind: String, file: String? = nil) throws {
        var start = Date()
        let tokenizer = try TokenizerLoader.load(modelDirectory: fixtures + "/" + name)
        let loadSeconds = Date().timeIntervalSince(start)
        var text = ""
        if let file {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } else {
            let root = try JSONFile.read(fixtures + "/\(name)-expected.json")
            let texts = (root["cases"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
            let pieces = kind == "mixed" ? texts : texts.filter { $0.hasPrefix("The quick brown fox") }
            guard !pieces.isEmpty else { throw ValidationError("\(name): no \(kind) texts in its expected-ids file") }
            var round = 0
            while text.utf8.count < 1 << 20 {
                for item in pieces { text += item + (round % 2 == 0 ? " " : "\n") }
                round += 1
            }
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
        if json {
            print(JSON.serialize(.object([
                JSONMember("name", .string(name)), JSONMember("bytes", .integer(Int64(text.utf8.count))),
                JSONMember("tokens", .integer(Int64(ids.count))), JSONMember("encode_seconds", .double(best)),
                JSONMember("one_core_seconds", .double(sequentialBest)), JSONMember("decode_seconds", .double(decodeSeconds)),
                JSONMember("load_seconds", .double(loadSeconds)), JSONMember("round_trip", .bool(decoded == Array(text.utf8))),
                JSONMember("ids_sha", .string(String(ids.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64(UInt32(bitPattern: $1))) &* 1099511628211 }, radix: 16))),
            ]), style: .compact))
            return
        }
        print(String(format: "%@ %@: load %.1f ms; encode %.2f MB in %.1f ms (%.1f MB/s, %d tokens), on one core %.1f ms; decode %.1f ms%@",
                     name, kind, loadSeconds * 1000, megabytes, best * 1000, megabytes / best, ids.count, sequentialBest * 1000,
                     decodeSeconds * 1000, decoded == Array(text.utf8) ? "" : " (DECODE MISMATCH)"))
    }
}
