// `loft diff`: compares two checkpoints tensor by tensor (TensorDiff in Sources/Adapters).
// Exit status: 0 when they agree within tolerance, 1 when they do not, 2 on an error.

import Adapters
import ArgumentParser
import TensorIO

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints tensor by tensor.",
        discussion: """
            Two adapter directories (PEFT or MLX-LM) are compared module by module: the norm of the difference of the changes they make, ||scale_a B_a A_a - scale_b B_b A_b||_F, against atol + rtol * ||delta_b||, whatever their ranks and layouts. For each tensor in both: max |a - b|, max |a - b| / |b|, and how many elements fail numpy.allclose's rule |a - b| <= atol + rtol * |b| (B is the reference; NaN never agrees). Also lists tensors missing from either side and dtype or shape mismatches. Exit status: 0 all agree, 1 they differ, 2 error. Details: docs/commands/diff.md.

            Examples:
              loft diff merged.safetensors expected.safetensors
              loft diff merged-dir original-dir --atol 1e-6 --rtol 0
              loft diff a.npz b.safetensors --json
              loft diff my-lora my-lora-mlx
            """)

    @Argument(help: "The checkpoint to check (file, sharded index or directory, .npz).")
    var a: String

    @Argument(help: "The reference checkpoint.")
    var b: String

    @Option(parsing: .unconditional, help: "Absolute tolerance (numpy's default 1e-8).")
    var atol: Double = 1e-8

    @Option(parsing: .unconditional, help: "Relative tolerance, relative to B (numpy's default 1e-5).")
    var rtol: Double = 1e-5

    @OptionGroup var stateDict: StateDictKeyOption

    @OptionGroup var format: JSONOutput

    func validate() throws {
        guard atol >= 0, rtol >= 0, atol.isFinite, rtol.isFinite else { throw ValidationError("--atol and --rtol must be finite and >= 0") }
    }

    func run() throws {
        if Adapter.isAdapterDirectory(a) || Adapter.isAdapterDirectory(b) { return try runAdapters() }
        let report: DiffReport
        do {
            report = try TensorDiff.compare(a, b, atol: atol, rtol: rtol, key: stateDict.key)
        } catch {
            // diff's own statuses (as cmp and diff(1)): 2 for trouble, 1 reserved for "they differ".
            _ = CommandFailure.report(error, command: "loft diff", console: Console.current)
            throw ExitCode(2)
        }
        Console.current.out(format.json ? Self.json(report) : Self.text(report))
        if !report.agrees { throw ExitCode(1) }
    }

    static func text(_ report: DiffReport) -> String {
        let rows: [[String]] = [["tensor", "dtype", "shape", "max abs", "max rel", "not close", ""]] + report.tensors.map { t in
            [t.name,
             t.dtypeMatches ? t.dtypeA.rawValue : "\(t.dtypeA.rawValue) vs \(t.dtypeB.rawValue)",
             t.shapeMatches ? "\(t.shapeA)" : "\(t.shapeA) vs \(t.shapeB)",
             t.compared ? format(t.maxAbsolute) : "-", t.compared ? format(t.maxRelative) : "-",
             t.compared ? "\(t.notClose)" : "-", t.agrees ? "ok" : "DIFFERS"]
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in zip(row, widths).map { $0.padded($1) }.joined(separator: "  ").trimmingTrailingSpaces() }
        if !report.missing.isEmpty { lines.append("only in \(report.b) (missing from \(report.a)): " + abbreviated(report.missing)) }
        if !report.extra.isEmpty { lines.append("only in \(report.a) (not in \(report.b)): " + abbreviated(report.extra)) }
        let differing = report.tensors.filter { !$0.agrees }.count
        lines.append("\(report.tensors.count) tensor(s) compared, \(differing) differ, \(report.missing.count) missing, \(report.extra.count) extra "
            + "(atol \(report.atol), rtol \(report.rtol)): " + (report.agrees ? "agree" : "DIFFER"))
        return lines.joined(separator: "\n")
    }

    static func json(_ report: DiffReport) -> String {
        func number(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .string(x > 0 ? "inf" : "nan") }
        let value = JSONValue.object([
            JSONMember("a", .string(report.a)), JSONMember("b", .string(report.b)),
            JSONMember("atol", .double(report.atol)), JSONMember("rtol", .double(report.rtol)),
            JSONMember("agree", .bool(report.agrees)),
            JSONMember("tensors", .array(report.tensors.map { t in
                .object([
                    JSONMember("name", .string(t.name)),
                    JSONMember("dtype_a", .string(t.dtypeA.rawValue)), JSONMember("dtype_b", .string(t.dtypeB.rawValue)),
                    JSONMember("shape_a", .array(t.shapeA.map { .integer(Int64($0)) })),
                    JSONMember("shape_b", .array(t.shapeB.map { .integer(Int64($0)) })),
                    JSONMember("max_abs", t.compared ? number(t.maxAbsolute) : .null),
                    JSONMember("max_rel", t.compared ? number(t.maxRelative) : .null),
                    JSONMember("not_close", t.compared ? .integer(Int64(t.notClose)) : .null),
                    JSONMember("agree", .bool(t.agrees)),
                ])
            })),
            JSONMember("missing", .array(report.missing.map { .string($0) })),
            JSONMember("extra", .array(report.extra.map { .string($0) })),
        ])
        return JSON.serialize(value, style: .indented)
    }

    /// The first names of a long list (--json has them all).
    static func abbreviated(_ names: [String], limit: Int = 10) -> String {
        names.count <= limit ? names.joined(separator: ", ") : names.prefix(limit).joined(separator: ", ") + ", ... (\(names.count - limit) more)"
    }

    static func format(_ x: Double) -> String {
        if x == 0 { return "0" }
        if !x.isFinite { return x > 0 ? "inf" : "nan" }
        return String(format: "%.3g", x)
    }
}

extension String {
    fileprivate func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }

    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
