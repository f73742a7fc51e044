// Running a program as a shell would, for exit statuses and what reaches stdout/stderr.

import Foundation

public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// False when the process ended by a signal (a crash), not by exit().
    public var exited: Bool
}

public enum Processes {
    /// Runs `executable arguments...` to completion; stdin is empty.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           currentDirectory: String? = nil) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain stderr on another thread: a program filling both pipes would otherwise block.
        let errors = Collected()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errors.data = err.fileHandleForReading.readDataToEndOfFile() }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                             stderr: String(decoding: errors.data, as: UTF8.self), exited: process.terminationReason == .exit)
    }

    /// Runs the debug `loft` binary (see `.requiresBinary`).
    public static func loft(_ arguments: [String], currentDirectory: String? = nil) throws -> ProcessResult {
        guard let binary = Repository.binary else { throw MissingBinary() }
        return try run(binary, arguments, currentDirectory: currentDirectory)
    }

    public struct MissingBinary: Error, CustomStringConvertible {
        public var description: String { ".build/debug/loft is not built (swift build)" }
    }
}

final class Collected: @unchecked Sendable { var data = Data() }
