// The root command: gathers the subcommands. Each command lives in its own file and only
// parses, calls a library, and reports; the work is in the library targets. Every command
// runs through `execute`, so every error takes the same path (CommandFailure).

import ArgumentParser
import TensorIO

import Glibc

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
        EvalCommand.self, GenerateCommand.self, MergeCommand.self, CombineCommand.self, ExtractCommand.self, DiffCommand.self,
    ]

    public init() {}

    /// The executable's entry point (in place of ArgumentParser's `main()`, whose errors
    /// read `Error: ...`).
    public static func main() {
        // Byte-preserving: a path argument that is not UTF-8 names exactly its bytes (SystemPath).
        terminate(execute(SystemPath.arguments()))
    }

    /// Parses and runs one command line; returns the exit status. Output goes to
    /// `Console.current`, so tests run commands in-process through here too.
    public static func execute(_ arguments: [String]) -> Int32 {
        let console = Console.current
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch {
            return CommandFailure.report(error, command: commandPath(arguments), console: console)
        }
    }

    /// "loft", "loft merge", "loft experiment factorization": the subcommand words at the
    /// start of the arguments (the name errors are reported under).
    static func commandPath(_ arguments: [String]) -> String {
        var names = ["loft"]
        var current: [ParsableCommand.Type] = Loft.commands
        for word in arguments {
            guard let next = current.first(where: { $0.configuration.commandName == word }) else { break }
            names.append(word)
            current = next.configuration.subcommands
        }
        return names.joined(separator: " ")
    }
}

/// exit(3) (flushes stdio), outside the type, where `exit` means ParsableCommand's `exit(withError:)`.
private func terminate(_ status: Int32) -> Never { exit(status) }
