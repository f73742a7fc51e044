// `loft extract`: parses, calls LoraExtraction (Sources/Adapters), reports each module's error.

import Adapters
import ArgumentParser
import TensorIO

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract a LoRA adapter approximating TUNED - BASE (truncated SVD per module).",
        discussion: """
            Each changed 2-D weight becomes a rank-r LoRA (the best rank-r approximation of its delta, Eckart-Young); --energy or --sv-epsilon lower the rank per module (written as rank_pattern). Embeddings, the output head, norms and modules whose factors would not be smaller than the matrix are saved whole (modules_to_save). The two checkpoints are streamed one tensor pair at a time. Details: docs/commands/extract.md.

            Examples:
              loft extract --base llama --tuned llama-tuned --rank 16 --out lora
              loft extract --base gpt2 --tuned gpt2-tuned --rank 64 --energy 0.9 --targets c_attn,c_proj --out lora --json
            """)

    @Option(help: "The base checkpoint: a .safetensors file, a sharded index .json or directory, or an .npz.")
    var base: String

    @Option(help: "The fine-tuned checkpoint, with the base's tensor names and shapes.")
    var tuned: String

    @Option(help: "The largest rank of any module.")
    var rank: Int

    @Option(help: "Keep, per module, the fewest singular values holding this fraction of the delta's squared norm, in (0, 1].")
    var energy: Double?

    @Option(name: .customLong("sv-epsilon"), help: "Drop singular values at or below this absolute value.")
    var svEpsilon: Double?

    @Option(help: ArgumentHelp("Comma-separated module names to extract (a path or its last parts, e.g. q_proj,v_proj; default: every changed 2-D weight).", valueName: "names"))
    var targets: String?

    @Option(help: "The adapter directory to write (adapter_config.json + adapter_model.safetensors).")
    var out: String

    @OptionGroup var overwrite: OverwriteOption

    @OptionGroup var format: JSONOutput

    func validate() throws {
        try CommandFailure.requirePath(base, flag: "--base")
        try CommandFailure.requirePath(tuned, flag: "--tuned")
        try CommandFailure.requirePath(out, flag: "--out")
        if rank < 1 { throw ValidationError("--rank must be a positive integer") }
        if let energy, !(energy > 0 && energy <= 1) { throw ValidationError("--energy must be in (0, 1], got \(energy)") }
        if let svEpsilon, !(svEpsilon >= 0 && svEpsilon.isFinite) { throw ValidationError("--sv-epsilon must be a non-negative number") }
        if let list = targetList, list.isEmpty || list.contains("") { throw ValidationError("--targets: give comma-separated module names") }
    }

    var targetList: [String]? { targets.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } } }

    func run() throws {
        var options = ExtractOptions(base: base, tuned: tuned, output: out, rank: rank)
        options.energy = energy
        options.overwrite = overwrite.overwrite
        options.svEpsilon = svEpsilon
        options.targets = targetList
        let start = ProgressBar.now()
        let progress = ProgressBar(label: "extract")
        let report = try LoraExtraction.run(options) { progress.update(done: $0, total: $1) }
        progress.finish()
        let seconds = ProgressBar.now() - start
        Console.current.out(format.json ? ExtractReportText.json(report, seconds: seconds) : ExtractReportText.text(report, seconds: seconds))
    }
}

import Foundation

private enum ExtractReportText {
    static func text(_ report: ExtractReport, seconds: Double) -> String {
        let width = report.modules.map(\.tensor.count).max() ?? 0
        var lines = report.modules.map { m -> String in
            var line = "  " + m.tensor.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + m.kind.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
            if let rank = m.rank { line += "  r=\(rank)" }
            line += String(format: "  |delta| %.4g  error %.4g", m.deltaNorm, m.relativeError)
            return line
        }
        let count = { (kind: ExtractedModule.Kind) in report.modules.filter { $0.kind == kind }.count }
        lines.append("extracted \(count(.lora)) LoRA module(s) (r = \(report.rank)), \(count(.full)) saved whole, \(count(.bias)) bias(es)"
            + (count(.skipped) > 0 ? ", \(count(.skipped)) changed tensor(s) skipped (not targets)" : "")
            + ", \(report.unchanged) unchanged; wrote \(report.output) in \(String(format: "%.2f", seconds)) s")
        return lines.joined(separator: "\n")
    }

    static func json(_ report: ExtractReport, seconds: Double) -> String {
        let value = JSONValue.object([
            JSONMember("base", .string(report.base)), JSONMember("tuned", .string(report.tuned)),
            JSONMember("output", .string(report.output)), JSONMember("r", .integer(Int64(report.rank))),
            JSONMember("modules", .array(report.modules.map { m in
                .object([
                    JSONMember("tensor", .string(m.tensor)), JSONMember("module", .string(m.module)),
                    JSONMember("kind", .string(m.kind.rawValue)), JSONMember("shape", .array(m.shape.map { .integer(Int64($0)) })),
                    JSONMember("rank", m.rank.map { .integer(Int64($0)) } ?? .null),
                    JSONMember("relative_error", .finite(m.relativeError)), JSONMember("delta_norm", .finite(m.deltaNorm)),
                ])
            })),
            JSONMember("unchanged", .integer(Int64(report.unchanged))),
            JSONMember("files", .array(report.files.map { .string($0) })),
            JSONMember("seconds", .double(seconds)),
        ])
        return JSON.serialize(value, style: .indented)
    }
}
