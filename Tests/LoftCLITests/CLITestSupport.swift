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

/// Runs the built binary (Repo.binary) with `arguments`: how it ended and its stderr.
func runBinary(_ arguments: [String]) throws -> (reason: Process.TerminationReason, status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(Repo.binary))
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationReason, process.terminationStatus, text)
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Parses and runs `loft ARGS...` in this process, through the same path as the executable
/// (`Loft.execute`: errors, statuses, help on stdout).
func loft(_ arguments: String...) -> CommandResult { loft(arguments) }

func loft(_ arguments: [String]) -> CommandResult {
    var status: Int32 = 0
    let console = Console.capture { status = Loft.execute(arguments) }
    return CommandResult(status: status, stdout: console.standardOutput, stderr: console.standardError)
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
