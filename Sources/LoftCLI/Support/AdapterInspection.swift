// The text and JSON of `loft inspect ADAPTER_DIR` (the numbers: Adapters' AdapterSummary).

import Adapters
import TensorIO

enum AdapterInspection {
    static func text(_ s: AdapterSummary) -> String {
        let kinds = Dictionary(grouping: s.modules, by: \.kind).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
        var lines = ["\(s.path): \(s.format.rawValue) adapter, \(s.modules.count) module(s) (\(kinds)), weights \(SystemPath.lastComponent(s.weightsPath))", ""]
        let biases = s.modules.contains(where: \.hasBias)
        var table = TextTable([("module", .left), ("kind", .left), ("shape", .right), ("rank", .right), ("alpha", .right),
                               ("scale", .right), ("||delta||", .right)] + (biases ? [("bias", .left)] : []))
        for m in s.modules {
            table.add([NumberText.printable(m.module), m.kind, "\(m.rows) x \(m.columns)", String(m.rank),
                       m.alpha.map(NumberText.short) ?? "-", NumberText.short(m.scale), NumberText.short(m.deltaNorm)]
                      + (biases ? [m.hasBias ? "yes" : "no"] : []))
        }
        lines.append(table.render())
        if !s.replaced.isEmpty { lines += ["", "replaced whole (modules_to_save): " + s.replaced.map(NumberText.printable).joined(separator: ", ")] }
        return lines.joined(separator: "\n")
    }

    static func json(_ s: AdapterSummary) -> JSONValue {
        .object([
            JSONMember("path", .string(s.path)),
            JSONMember("format", .string(s.format.rawValue)),
            JSONMember("weights", .string(s.weightsPath)),
            JSONMember("modules", .array(s.modules.map { m in
                .object([
                    JSONMember("module", .string(m.module)), JSONMember("kind", .string(m.kind)),
                    JSONMember("rows", .integer(Int64(m.rows))), JSONMember("columns", .integer(Int64(m.columns))),
                    JSONMember("rank", .integer(Int64(m.rank))), JSONMember("alpha", m.alpha.map { .double($0) } ?? .null),
                    JSONMember("scale", .double(m.scale)), JSONMember("delta_norm", .double(m.deltaNorm)),
                    JSONMember("bias", .bool(m.hasBias)),
                ])
            })),
            JSONMember("replaced", .array(s.replaced.map { .string($0) })),
        ])
    }
}
