// Running the commands in-process (output captured through Console) and finding the CLI
// fixtures. Scratch directories, Python and the built binary come from TestSupport.

import ArgumentParser
import Foundation
import Testing
@_exported import TestSupport
@testable import LoftCLI
import TensorIO

enum Repo {
    static let root = Repository.root

    static func fixture(_ relative: String) -> String { root.appendingPathComponent("fixtures/cli/\(relative)").path }

    static var binary: String? { Repository.binary }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Parses and runs `loft ARGS...` in this process, the way `Loft.main()` would.
func loft(_ arguments: String...) -> CommandResult { loft(arguments) }

func loft(_ arguments: [String]) -> CommandResult {
    var status: Int32 = 0
    var message = ""
    let console = Console.capture {
        do {
            var command = try Loft.parseAsRoot(arguments)
            try command.run()
        } catch {
            status = Loft.exitCode(for: error).rawValue
            message = Loft.message(for: error)  // empty for ExitCode: the command printed already
        }
    }
    // --help is a "clean exit" whose text belongs on stdout.
    if status == 0 { return CommandResult(status: 0, stdout: console.standardOutput + message, stderr: console.standardError) }
    return CommandResult(status: status, stdout: console.standardOutput, stderr: console.standardError + message)
}


/// Every tensor of a file as (info, bytes), in the reader's order.
func tensorsOf(_ path: String) throws -> [String: (TensorInfo, [UInt8])] {
    let reader = try TensorFile.open(path)
    var result: [String: (TensorInfo, [UInt8])] = [:]
    for info in reader.tensors {
        // The copy must finish while the TensorData (and so its owner) is alive.
        let data = try reader.data(for: info.name)
        result[info.name] = withExtendedLifetime(data) { (info, Array(data.bytes)) }
    }
    return result
}
