// The root command: gathers the subcommands. Each command lives in its own file and only
// parses, calls a library, and reports; the work is in the library targets.

import ArgumentParser

public struct Loft: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loft",
        abstract: "Inspect, convert, fine-tune (LoFT) and merge the files ML models live in.",
        discussion: """
            Examples:
              loft inspect model.safetensors
              loft convert model.safetensors model-f16.safetensors --dtype f16
            """,
        version: "0.1.0",
        subcommands: Loft.commands
    )

    /// Every subcommand, in the order `loft --help` lists them.
    static let commands: [ParsableCommand.Type] = [
        InspectCommand.self, ConvertCommand.self, ExperimentCommand.self, FinetuneCommand.self,
        EvalCommand.self, GenerateCommand.self, MergeCommand.self, DiffCommand.self,
    ]

    public init() {}
}
