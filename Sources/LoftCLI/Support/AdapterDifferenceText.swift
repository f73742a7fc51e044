// `loft diff A_DIR B_DIR` for two adapters (the numbers: Adapters' AdapterDiff): one row per
// module, then what only one side adapts; exit statuses as for tensor files.

import Adapters
import ArgumentParser
import TensorIO

extension DiffCommand {
    func runAdapters() throws {
        let report: AdapterDiffReport
        do {
            // An adapter is compared with an adapter (a model with a model: merge it first).
            for path in [a, b] where !Adapter.isAdapterDirectory(path) { throw AdapterError.notAnAdapter(path: path) }
            report = try AdapterDiff.compare(a, b, atol: atol, rtol: rtol)
        } catch {
            _ = CommandFailure.report(error, command: "loft diff", console: Console.current)
            throw ExitCode(2)
        }
        Console.current.out(format.json ? JSON.serialize(Self.json(report), style: .indented) : Self.text(report))
        if !report.agrees { throw ExitCode(1) }
    }

    static func text(_ r: AdapterDiffReport) -> String {
        var table = TextTable([("module", .left), ("ranks", .right), ("||delta a||", .right), ("||delta b||", .right),
                               ("||a - b||", .right), ("relative", .right), ("", .left)])
        for m in r.modules {
            table.add([NumberText.printable(m.module), "\(m.rankA)/\(m.rankB)", NumberText.short(m.normA), NumberText.short(m.normB),
                       NumberText.short(m.difference), NumberText.short(m.relative), m.agrees ? "ok" : "DIFFERS"])
        }
        var lines = [table.render()]
        if !r.mismatched.isEmpty { lines.append("different delta shapes or kinds: " + r.mismatched.joined(separator: ", ")) }
        if !r.missing.isEmpty { lines.append("only in \(r.b) (missing from \(r.a)): " + r.missing.joined(separator: ", ")) }
        if !r.extra.isEmpty { lines.append("only in \(r.a) (not in \(r.b)): " + r.extra.joined(separator: ", ")) }
        let differing = r.modules.filter { !$0.agrees }.count
        lines.append("\(r.modules.count) module(s) compared, \(differing) differ, \(r.missing.count) missing, \(r.extra.count) extra, "
            + "\(r.mismatched.count) mismatched (atol \(r.atol), rtol \(r.rtol)): " + (r.agrees ? "agree" : "DIFFER"))
        return lines.joined(separator: "\n")
    }

    static func json(_ r: AdapterDiffReport) -> JSONValue {
        func number(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .string(x > 0 ? "inf" : "nan") }
        return .object([
            JSONMember("a", .string(r.a)), JSONMember("b", .string(r.b)),
            JSONMember("atol", .double(r.atol)), JSONMember("rtol", .double(r.rtol)), JSONMember("agree", .bool(r.agrees)),
            JSONMember("modules", .array(r.modules.map { m in
                .object([
                    JSONMember("module", .string(m.module)), JSONMember("rank_a", .integer(Int64(m.rankA))), JSONMember("rank_b", .integer(Int64(m.rankB))),
                    JSONMember("norm_a", number(m.normA)), JSONMember("norm_b", number(m.normB)),
                    JSONMember("difference", number(m.difference)), JSONMember("relative", number(m.relative)),
                    JSONMember("magnitude_difference", m.magnitudeDifference.map(number) ?? .null), JSONMember("agree", .bool(m.agrees)),
                ])
            })),
            JSONMember("missing", .array(r.missing.map { .string($0) })),
            JSONMember("extra", .array(r.extra.map { .string($0) })),
            JSONMember("mismatched", .array(r.mismatched.map { .string($0) })),
        ])
    }
}
