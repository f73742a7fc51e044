// Turning an error into what the user sees: one line on stderr naming the file and the
// problem, and a non-zero exit status (1 for bad input or a failed write, 64 for usage as
// ArgumentParser does), never a Swift crash trace.

import ArgumentParser

enum CommandFailure {
    /// Runs a command body; a thrown error is printed as `loft COMMAND: message` and becomes
    /// exit status 1. Usage errors (ValidationError, ExitCode) pass through unchanged.
    static func reporting(_ command: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ValidationError {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            Console.current.err("loft \(command): \(error)")
            throw ExitCode(1)
        }
    }
}
