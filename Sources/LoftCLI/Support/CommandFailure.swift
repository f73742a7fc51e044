// Turning an error into what the user sees, for every command alike: one line on stderr,
// `loft COMMAND: message` (naming the file and the problem), and an exit status: 64 for a
// usage error (a bad flag or value, as ArgumentParser and sysexits' EX_USAGE mean it), 1 for
// anything that failed at run time (bad input file, failed write). Never a crash trace.
// Library errors name settings, not flags: TrainingError is rendered here with flag names.

import ArgumentParser
import TensorIO
import Training

enum CommandFailure {
    static let usageStatus: Int32 = 64
    static let failureStatus: Int32 = 1

    /// Prints what `error` means for `command` ("loft merge") and returns the exit status.
    static func report(_ error: Error, command: String, console: Console) -> Int32 {
        // A command that printed its own message and chose its status (diff's 1 and 2).
        if let exit = error as? ExitCode { return exit.rawValue }
        if let training = error as? TrainingError {
            console.err("\(command): \(message(training))")
            return training.isUsage ? usageStatus : failureStatus
        }
        switch Loft.exitCode(for: error) {
        case .success:
            // --help, --version: asked for, so on stdout.
            console.out(Loft.fullMessage(for: error))
            return 0
        case .validationFailure:
            // A parse error or a ValidationError: the message, then how the command is used.
            console.err("\(command): \(SystemPath.display(Loft.message(for: error)))")
            let full = Loft.fullMessage(for: error)
            if let usage = full.range(of: "Usage: ") { console.err(String(full[usage.lowerBound...])) }
            return usageStatus
        default:
            console.err("\(command): \(SystemPath.display("\(error)"))")
            return failureStatus
        }
    }

    /// A training error with the flags that set what it is about.
    static func message(_ error: TrainingError) -> String { error.message(naming: \.flag) }

    /// For `validate()`: a library's range check, reported as a usage error with flag names.
    static func usage(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as TrainingError {
            throw ValidationError(message(error))
        }
    }

    /// A run-time failure a command finds itself (exit status 1), its message as shown.
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// A path flag given as "" names no file: refused before any work.
    static func requirePath(_ path: String, flag: String) throws {
        if path.isEmpty { throw ValidationError("\(flag) is empty: give a path") }
    }
}
