// `loft combine`: parses, calls AdapterCombine (Sources/Adapters), reports each module.

import Adapters
import ArgumentParser
import TensorIO

extension CombineMethod: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.name) }
    public var defaultValueDescription: String { name }
}

extension MajoritySignMethod: ExpressibleByArgument {}

struct CombineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "combine",
        abstract: "Combine several LoRA adapters into one PEFT adapter (PEFT's add_weighted_adapter methods).",
        discussion: """
            cat is exact (B A is the weighted sum of the deltas; ranks add up). svd and the *_svd methods merge the deltas and truncate them by SVD to --rank. linear, ties, dare_linear, dare_ties and magnitude_prune merge the A factors and the B factors separately, as PEFT does (cross terms included), and need equal ranks. The output has scale 1 (lora_alpha = r, rank_pattern for modules of another rank). Details and formulas: docs/commands/combine.md.

            Examples:
              loft combine --adapter style --adapter facts --method cat --out both
              loft combine --adapter style:0.7 --adapter facts:0.3 --method svd --rank 16 --out mixed
              loft combine --adapter a --adapter b --method dare_ties --density 0.5 --seed 7 --out c --json
            """)

    @Option(name: .customLong("adapter"), help: ArgumentHelp("A PEFT adapter directory, optionally with a weight: DIR or DIR:WEIGHT. Repeat for each adapter.", valueName: "dir[:weight]"))
    var adapters: [String] = []

    @Option(help: "How to combine: \(CombineMethod.allCases.map(\.name).joined(separator: ", ")).")
    var method: CombineMethod

    @Option(help: "svd methods: the rank kept (default: the largest input rank).")
    var rank: Int?

    @Option(help: "ties, dare and magnitude_prune methods: the fraction of values kept, in (0, 1].")
    var density: Double?

    @Option(name: .customLong("majority-sign-method"), help: "ties methods: elect each element's sign by the sum of the values (total) or of their signs (frequency).")
    var majoritySignMethod: MajoritySignMethod = .total

    @Option(help: "dare methods: seed of the random masks.")
    var seed: UInt64 = 0

    @Option(help: "The adapter directory to write (adapter_config.json + adapter_model.safetensors).")
    var out: String

    @OptionGroup var overwrite: OverwriteOption

    @OptionGroup var format: JSONOutput

    func validate() throws {
        if adapters.isEmpty { throw ValidationError("give at least one --adapter DIR[:WEIGHT]") }
        try CommandFailure.requirePath(out, flag: "--out")
        do { _ = try adapters.map(AdapterSource.init(argument:)) } catch { throw ValidationError("\(error)") }
        if method.usesDensity && density == nil { throw ValidationError("--method \(method.name) needs --density (the fraction of values kept)") }
        if !method.usesDensity && density != nil { throw ValidationError("--density does not apply to --method \(method.name)") }
        if let density, !(density > 0 && density <= 1) { throw ValidationError("--density must be in (0, 1], got \(density)") }
        if rank != nil && !method.truncates { throw ValidationError("--rank applies to the svd methods only (\(method.name) keeps the inputs' ranks)") }
        if let rank, rank < 1 { throw ValidationError("--rank must be a positive integer") }
    }

    func run() throws {
        var options = CombineOptions(adapters: try adapters.map(AdapterSource.init(argument:)), method: method, output: out)
        options.rank = rank
        options.overwrite = overwrite.overwrite
        options.parameters = TaskMergeParameters(density: density ?? 1, signMethod: majoritySignMethod, seed: seed)
        let start = ProgressBar.now()
        let report = try AdapterCombine.run(options)
        let seconds = ProgressBar.now() - start
        Console.current.out(format.json ? CombineReportText.json(report, seconds: seconds) : CombineReportText.text(report, seconds: seconds))
    }
}

private enum CombineReportText {
    static func text(_ report: CombineReport, seconds: Double) -> String {
        var lines = report.adapters.enumerated().map { "adapter \($0.offset + 1): \($0.element.path) (weight \(number($0.element.weight)))" }
        let width = report.modules.map(\.module.count).max() ?? 0
        for module in report.modules {
            let ranks = module.inputRanks.map { $0.map(String.init) ?? "-" }.joined(separator: "+")
            var line = "  " + module.module.padding(toLength: width, withPad: " ", startingAt: 0) + "  ranks \(ranks) -> r=\(module.rank)"
            if let error = module.truncationError { line += String(format: "  truncation error %.3g", error) }
            lines.append(line)
        }
        lines.append("\(report.method.name): \(report.modules.count) module(s), r = \(report.rank)"
            + (report.rankPattern.isEmpty ? "" : ", \(report.rankPattern.count) in rank_pattern")
            + "; wrote \(report.output) in \(String(format: "%.2f", seconds)) s")
        return lines.joined(separator: "\n")
    }

    static func json(_ report: CombineReport, seconds: Double) -> String {
        let value = JSONValue.object([
            JSONMember("method", .string(report.method.name)),
            JSONMember("output", .string(report.output)),
            JSONMember("adapters", .array(report.adapters.map {
                .object([JSONMember("path", .string($0.path)), JSONMember("weight", .double($0.weight))])
            })),
            JSONMember("r", .integer(Int64(report.rank))),
            JSONMember("modules", .array(report.modules.map { m in
                .object([
                    JSONMember("module", .string(m.module)),
                    JSONMember("input_ranks", .array(m.inputRanks.map { $0.map { .integer(Int64($0)) } ?? .null })),
                    JSONMember("rank", .integer(Int64(m.rank))),
                    JSONMember("truncation_error", .finite(m.truncationError)),
                ])
            })),
            JSONMember("files", .array(report.files.map { .string($0) })),
            JSONMember("seconds", .double(seconds)),
        ])
        return JSON.serialize(value, style: .indented)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
