// Running the commands in-process (output captured through Console), finding fixtures, and
// scratch directories. Also the built binary, for exit statuses as a shell sees them.

import ArgumentParser
import Foundation
import Testing
@testable import LoftCLI
import TensorIO

enum Repo {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    static func fixture(_ relative: String) -> String { root.appendingPathComponent("fixtures/cli/\(relative)").path }

    /// The debug binary, if built (`swift build`); subprocess tests skip without it.
    static var binary: String? {
        let path = root.appendingPathComponent(".build/debug/loft").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
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

/// A fresh directory, removed by the caller with `remove()`.
final class ScratchDirectory {
    let path: String
    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loft-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }
    func file(_ name: String) -> String { path + "/" + name }
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    deinit { try? FileManager.default.removeItem(atPath: path) }
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

/// Runs python3 with a script; nil when python3 or the modules it imports are missing.
func python(_ script: String, arguments: [String] = []) -> (status: Int32, output: String)? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    if process.terminationStatus != 0, output.contains("ModuleNotFoundError") { return nil }
    return (process.terminationStatus, output)
}

let pythonWithNumPy: Bool = python("import numpy, safetensors")?.status == 0
