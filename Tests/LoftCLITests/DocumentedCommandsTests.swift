// Every `loft ...` command shown in README.md and docs/**/*.md is checked against the real
// command line, so the documentation cannot rot:
//   - a command line (in any fenced code block, with or without a `$ ` prompt) must parse with
//     the ArgumentParser definitions: a renamed flag, a removed option or a bad value fails;
//   - a synopsis (a line with `[--option]`, `A|B` or `...` placeholders) must name only options
//     the command has;
//   - blocks tagged ```sh runnable are run as bash scripts (set -euo pipefail), a page's blocks
//     in order in one temporary directory holding a link to the shipped demo/ files, with the
//     built `loft` first on PATH.
// Commands on placeholder paths (`model.safetensors`, `runs/a`) are parse-only by design.

import ArgumentParser
import Foundation
import Testing
@testable import LoftCLI

/// One `loft` command line found in a Markdown file.
struct DocumentedCommand: CustomTestStringConvertible, Sendable {
    let file: String        // relative to the repository root
    let line: Int
    let text: String        // the command as written (continuations joined)
    let words: [String]     // after `loft`, shell-split, up to the first pipe/redirect/comment
    let isSynopsis: Bool

    var testDescription: String { "\(file):\(line): \(text)" }
}

/// One fenced block tagged `sh runnable`.
struct RunnableBlock: CustomTestStringConvertible, Sendable {
    let file: String
    let line: Int
    let script: String

    var testDescription: String { "\(file):\(line)" }
}

enum DocumentedCommands {
    static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // Tests/LoftCLITests/this.swift
        return url
    }()

    /// README.md and every .md under docs/, sorted.
    static func markdownFiles() -> [String] {
        var files = ["README.md"]
        let docs = repositoryRoot.appendingPathComponent("docs")
        if let walker = FileManager.default.enumerator(atPath: docs.path) {
            for case let path as String in walker where path.hasSuffix(".md") { files.append("docs/" + path) }
        }
        return files.sorted()
    }

    static func read(_ file: String) -> String {
        (try? String(contentsOf: repositoryRoot.appendingPathComponent(file), encoding: .utf8)) ?? ""
    }

    /// The fenced code blocks of a Markdown text: (info string, first line number, lines).
    static func fencedBlocks(_ markdown: String) -> [(info: String, line: Int, lines: [String])] {
        var blocks: [(info: String, line: Int, lines: [String])] = []
        var current: (info: String, line: Int, lines: [String])?
        for (index, raw) in markdown.components(separatedBy: "\n").enumerated() {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                if let block = current {
                    blocks.append(block)
                    current = nil
                } else {
                    current = (String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces), index + 2, [])
                }
            } else if current != nil {
                current!.lines.append(raw)
            }
        }
        return blocks
    }

    /// The `loft` command lines of one Markdown text.
    static func commands(in markdown: String, file: String) -> [DocumentedCommand] {
        var found: [DocumentedCommand] = []
        for block in fencedBlocks(markdown) {
            // Shell blocks hold commands; other blocks (text, json: shown output) only the
            // lines with a `$ ` prompt.
            let language = block.info.split(separator: " ").first.map(String.init) ?? ""
            let isShell = ["", "sh", "bash", "shell", "console", "zsh"].contains(language)
            var index = 0
            while index < block.lines.count {
                let start = index
                var text = block.lines[index].trimmingCharacters(in: .whitespaces)
                index += 1
                if text.hasPrefix("$ ") {
                    text = String(text.dropFirst(2))
                } else if !isShell {
                    continue
                }
                guard text == "loft" || text.hasPrefix("loft ") else { continue }
                // Continuations: a trailing backslash, or a synopsis going on with indented
                // `[--option]` lines.
                while index < block.lines.count {
                    let next = block.lines[index].trimmingCharacters(in: .whitespaces)
                    if text.hasSuffix("\\") {
                        text = String(text.dropLast()) + " " + next
                    } else if block.lines[index].hasPrefix(" ") && (next.hasPrefix("[") || next.hasPrefix("--")) {
                        text += " " + next
                    } else {
                        break
                    }
                    index += 1
                }
                let words = Array(shellWords(text).dropFirst())
                let isSynopsis = text.contains("[-") || text.contains("...") || text.contains("…")
                    || words.contains { $0.contains("|") && $0.hasPrefix("--") == false && $0.contains("/") == false }
                found.append(DocumentedCommand(file: file, line: block.line + start, text: text, words: words, isSynopsis: isSynopsis))
            }
        }
        return found
    }

    static func runnableBlocks(in markdown: String, file: String) -> [RunnableBlock] {
        fencedBlocks(markdown).filter { $0.info.split(separator: " ").contains("runnable") }
            .map { RunnableBlock(file: file, line: $0.line, script: $0.lines.joined(separator: "\n")) }
    }

    static let all: [DocumentedCommand] = markdownFiles().flatMap { commands(in: read($0), file: $0) }
    static let runnable: [RunnableBlock] = markdownFiles().flatMap { runnableBlocks(in: read($0), file: $0) }

    /// POSIX-shell word splitting, enough for documentation: single and double quotes,
    /// backslash escapes, a `#` comment; stops at an unquoted `|`, `;`, `&`, `<` or `>`.
    static func shellWords(_ line: String) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var characters = Array(line)[...]
        while let c = characters.popFirst() {
            switch c {
            case " ", "\t":
                if inWord { words.append(word); word = ""; inWord = false }
            case "#" where !inWord:
                characters = []
            case "|" where inWord:
                word.append(c)                                  // `f32|f16`: a placeholder's choices
            case "|", ";", "&", "<", ">":
                // `2>file` redirects: the descriptor number is not a word.
                if inWord && !((c == ">" || c == "<") && word.allSatisfy(\.isNumber)) { words.append(word) }
                return words
            case "'":
                inWord = true
                while let q = characters.popFirst(), q != "'" { word.append(q) }
            case "\"":
                inWord = true
                while let q = characters.popFirst(), q != "\"" {
                    if q == "\\", let escaped = characters.first, "\"\\$`".contains(escaped) {
                        word.append(characters.popFirst()!)
                    } else {
                        word.append(q)
                    }
                }
            case "\\":
                inWord = true
                if let escaped = characters.popFirst() { word.append(escaped) }
            default:
                inWord = true
                word.append(c)
            }
        }
        if inWord { words.append(word) }
        return words
    }

    /// The subcommand a word list names (`experiment factorization` is two levels deep).
    static func subcommand(for words: [String]) -> ParsableCommand.Type? {
        var type: ParsableCommand.Type = Loft.self
        var depth = 0
        for word in words {
            guard let next = type.configuration.subcommands.first(where: { $0._commandName == word }) else { break }
            type = next
            depth += 1
        }
        return depth == 0 ? nil : type
    }

    /// `--name` options a synopsis mentions, without their `=value` or `[...]` decoration.
    static func optionNames(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let range = rest.range(of: "--") {
            let after = rest[range.upperBound...]
            let name = after.prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if let first = name.first, first.isLetter { names.append("--" + name) }
            rest = after.dropFirst(name.count)
        }
        return names
    }
}

@Suite struct DocumentedCommandsTests {
    @Test func theExtractorFindsTheDocumentedCommands() {
        let commands = DocumentedCommands.all
        #expect(commands.count >= 40, "found only \(commands.count) commands in README.md and docs/")
        let named = Set(commands.compactMap { $0.words.first })
        for name in ["inspect", "convert", "diff", "merge", "experiment", "finetune", "eval", "generate"] {
            #expect(named.contains(name), "no documented example of loft \(name)")
        }
        #expect(!DocumentedCommands.runnable.isEmpty, "no ```sh runnable block in README.md or docs/")
    }

    @Test func theExtractorReadsPromptsQuotesContinuationsAndComments() {
        let markdown = """
            Text with loft inspect not in a block.
            ```sh
            $ loft inspect 'a b.safetensors' --json   # a comment
            output line
            loft convert in.npz \\
                out.safetensors --rename "^x.=y." 2>/dev/null
            loft merge --base MODEL --adapter DIR
                       [--dtype f32|f16] [--json]
            python3 -c 'print(1)'
            ```
            ```text
            loft                  6.6e-14
            $ loft diff a b
            ```
            """
        let commands = DocumentedCommands.commands(in: markdown, file: "x.md")
        #expect(commands.map(\.words) == [
            ["inspect", "a b.safetensors", "--json"],
            ["convert", "in.npz", "out.safetensors", "--rename", "^x.=y."],
            ["merge", "--base", "MODEL", "--adapter", "DIR", "[--dtype", "f32|f16]", "[--json]"],
            ["diff", "a", "b"],
        ])
        #expect(commands.map(\.line) == [3, 5, 7, 13])
        #expect(commands.map(\.isSynopsis) == [false, false, true, false])
        #expect(DocumentedCommands.optionNames(in: commands[2].text) == ["--base", "--adapter", "--dtype", "--json"])
    }

    @Test func aRenamedFlagFailsToParse() {
        #expect(throws: (any Error).self) { try Loft.parseAsRoot(["inspect", "model.safetensors", "--jsn"]) }
        #expect(throws: Never.self) { try Loft.parseAsRoot(["inspect", "model.safetensors", "--json"]) }
    }

    @Test(arguments: DocumentedCommands.all)
    func documentedCommandIsAccepted(_ command: DocumentedCommand) throws {
        if command.isSynopsis {
            let type = try #require(DocumentedCommands.subcommand(for: command.words), "no such command")
            let help = Loft.helpMessage(for: type, includeHidden: true, columns: 1000)
            for option in DocumentedCommands.optionNames(in: command.text) {
                let known = help.range(of: option + "(?![A-Za-z0-9-])", options: .regularExpression) != nil
                #expect(known, "\(option) is not an option of loft \(type._commandName)")
            }
            return
        }
        do {
            _ = try Loft.parseAsRoot(command.words)
        } catch {
            if error is CleanExit { return }   // --help, --version
            Issue.record("does not parse: \(Loft.message(for: error))")
        }
    }

    /// Each command has a reference page, docs/commands/NAME.md, naming every one of its
    /// visible options (and its subcommands' options), so a new option cannot go undocumented.
    @Test(arguments: Loft.configuration.subcommands.map { $0._commandName })
    func referencePageNamesEveryOption(_ name: String) throws {
        let page = DocumentedCommands.read("docs/commands/\(name).md")
        try #require(!page.isEmpty, "docs/commands/\(name).md is missing")
        let command = try #require(Loft.configuration.subcommands.first { $0._commandName == name })
        for type in [command] + command.configuration.subcommands {
            // Hidden options (test hooks such as finetune's --stop-after) need no page.
            let help = Loft.helpMessage(for: type, includeHidden: false, columns: 1000)
            let usage = help.components(separatedBy: "OPTIONS:").last ?? help
            for option in Set(DocumentedCommands.optionNames(in: usage)).subtracting(["--help", "--version"]).sorted() {
                let named = page.range(of: option + "(?![A-Za-z0-9-])", options: .regularExpression) != nil
                #expect(named, "docs/commands/\(name).md does not mention \(option) of loft \(type._commandName)")
            }
        }
    }

    /// The runnable blocks of one page run in order in one directory, as a reader following
    /// the page would run them: a later block may use what an earlier one wrote.
    @Test(arguments: Dictionary(grouping: DocumentedCommands.runnable, by: \.file).keys.sorted())
    func runnableBlocksRun(_ file: String) throws {
        let binary = try #require(Self.loftExecutable(), "no built loft executable next to the tests: run `swift build` first")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loft-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createSymbolicLink(
            at: directory.appendingPathComponent("demo"),
            withDestinationURL: DocumentedCommands.repositoryRoot.appendingPathComponent("demo"))

        for block in DocumentedCommands.runnable where block.file == file {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", "set -euo pipefail\n" + block.script]
            process.currentDirectoryURL = directory
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] = binary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0,
                    "\(block.testDescription): exit status \(process.terminationStatus); output:\n\(text.suffix(4000))")
            if process.terminationStatus != 0 { return }
        }
    }

    /// The `loft` built beside this test bundle (swift build puts products in one directory).
    static func loftExecutable() -> URL? {
        var candidates: [URL] = []
        if let bundle = CommandLine.arguments.first(where: { $0.contains(".xctest") }) {
            var url = URL(fileURLWithPath: bundle)
            while url.pathComponents.count > 1, url.path.contains(".xctest") { url.deleteLastPathComponent() }
            candidates.append(url.appendingPathComponent("loft"))
        }
        candidates.append(DocumentedCommands.repositoryRoot.appendingPathComponent(".build/debug/loft"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
