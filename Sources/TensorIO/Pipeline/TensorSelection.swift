// Which tensors a command works on, and under which names.
//
// Patterns (`--include`, `--exclude`, `inspect --filter`): a pattern holding a glob character
// (`*`, `?`, `[`) is matched against the whole name with fnmatch(3) rules, where `*` also
// crosses dots ("layers.*.bias"); a pattern without one matches every name containing it
// ("attn"), which is what people type most. A name is selected when it matches one of the
// includes (or there are none) and none of the excludes.
//
// Renames (`--rename FROM=TO`): the first occurrence of FROM in the name is replaced by TO.
// `^FROM` only matches at the start and `FROM$` only at the end, so `--rename ^model.=`
// strips a prefix and nothing else. Rules apply in the order given, each to the result of
// the one before. Two tensors that end up with one name are an error naming both.

import Glibc

public struct TensorNamePattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public var description: String { text }

    public init(_ text: String) { self.text = text }

    public var isGlob: Bool { text.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    public func matches(_ name: String) -> Bool {
        if !isGlob { return TensorNamePattern.contains(name, text) }
        return fnmatch(text, name, 0) == 0
    }

    static func contains(_ name: String, _ part: String) -> Bool {
        let haystack = Array(name.utf8), needle = Array(part.utf8)
        guard haystack.count >= needle.count else { return false }
        if needle.isEmpty { return true }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }
}

public struct TensorRename: Sendable, Equatable, CustomStringConvertible {
    public let from: String
    public let to: String
    public let anchoredAtStart: Bool
    public let anchoredAtEnd: Bool

    /// Parses `FROM=TO` (TO may be empty; the first `=` splits).
    public init(rule: String) throws {
        guard let equals = rule.firstIndex(of: "=") else { throw PipelineError.badRename(rule: rule) }
        var from = String(rule[..<equals])
        to = String(rule[rule.index(after: equals)...])
        anchoredAtStart = from.hasPrefix("^")
        if anchoredAtStart { from.removeFirst() }
        anchoredAtEnd = from.hasSuffix("$")
        if anchoredAtEnd { from.removeLast() }
        guard !from.isEmpty else { throw PipelineError.badRename(rule: rule) }
        self.from = from
    }

    public var description: String {
        "\(anchoredAtStart ? "^" : "")\(from)\(anchoredAtEnd ? "$" : "")=\(to)"
    }

    public func apply(_ name: String) -> String {
        if anchoredAtStart {
            guard name.hasPrefix(from) else { return name }
            if anchoredAtEnd { return name == from ? to : name }
            return to + name.dropFirst(from.count)
        }
        if anchoredAtEnd {
            guard name.hasSuffix(from) else { return name }
            return name.dropLast(from.count) + to
        }
        let haystack = Array(name.utf8), needle = Array(from.utf8)
        guard haystack.count >= needle.count else { return name }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return String(decoding: haystack[..<start], as: UTF8.self) + to
                + String(decoding: haystack[(start + needle.count)...], as: UTF8.self)
        }
        return name
    }
}

public struct TensorSelection: Sendable {
    public var include: [TensorNamePattern]
    public var exclude: [TensorNamePattern]
    public var renames: [TensorRename]

    public init(include: [TensorNamePattern] = [], exclude: [TensorNamePattern] = [], renames: [TensorRename] = []) {
        self.include = include
        self.exclude = exclude
        self.renames = renames
    }

    public func isSelected(_ name: String) -> Bool {
        (include.isEmpty || include.contains { $0.matches(name) }) && !exclude.contains { $0.matches(name) }
    }

    public func outputName(for name: String) -> String {
        renames.reduce(name) { $1.apply($0) }
    }

    /// The selected tensors in input order, each with its output name. Throws on a rename
    /// collision, naming both inputs.
    public func plan(_ tensors: [TensorInfo], path: String) throws -> [(source: TensorInfo, name: String)] {
        // Keyed by UTF-8 bytes: Swift's String equality is canonical equivalence ("é" as one
        // scalar equals "e" + combining accent), the format's is byte equality.
        var seen: [[UInt8]: String] = [:]
        var result: [(source: TensorInfo, name: String)] = []
        for tensor in tensors where isSelected(tensor.name) {
            let name = outputName(for: tensor.name)
            if let other = seen[Array(name.utf8)] {
                throw PipelineError.renameCollision(path: path, first: other, second: tensor.name, name: name)
            }
            seen[Array(name.utf8)] = tensor.name
            result.append((tensor, name))
        }
        return result
    }
}
