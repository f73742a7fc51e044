// Shared by the NumPy tests: where the fixtures are, what numpy says they hold, and a way to
// ask python3 + numpy about files loft wrote.

import Foundation
import Testing
@testable import TensorIO

enum NumPyFixtures {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("fixtures/numpy")
    }()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func json(_ relative: String) -> JSONValue {
        let data = FileManager.default.contents(atPath: path(relative))!
        return try! data.withUnsafeBytes { try JSON.parse($0) }
    }

    static let manifest = json("manifest.json")

    struct Expected: CustomStringConvertible {
        let file: String
        let name: String
        let dtype: String
        let shape: [Int]
        let raw: String
        var description: String { "\(file):\(name)" }
        var bytes: [UInt8] { [UInt8](FileManager.default.contents(atPath: NumPyFixtures.path(raw))!) }
    }

    /// Each file of one kind ("npy" or "npz") with the tensors numpy read from it.
    static func files(_ kind: String) -> [(file: String, tensors: [Expected])] {
        manifest[kind]!.objectMembers!.map { member in
            (member.key, member.value.arrayValue!.map { t in
                Expected(file: member.key, name: t["name"]!.stringValue!, dtype: t["dtype"]!.stringValue!,
                         shape: t["shape"]!.arrayValue!.map { $0.intValue! }, raw: t["raw"]!.stringValue!)
            })
        }
    }

    static var npyNames: [String] { files("npy").map(\.file) }
    static var npzNames: [String] { files("npz").map(\.file) }
    static func tensors(_ kind: String, _ file: String) -> [Expected] { files(kind).first { $0.file == file }!.tensors }

    /// malformed file -> the error case loft must raise.
    static var malformed: [(file: String, error: String)] {
        json("malformed.json").objectMembers!.map { ($0.key, $0.value["error"]!.stringValue!) }
    }
}

/// The case name of an error enum value (`.badShape(path:...)` -> "badShape").
func errorCaseName(_ error: Error) -> String {
    Mirror(reflecting: error).children.first?.label ?? String(describing: error)
}

/// A scratch directory removed at deinit.
final class NpyScratch {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("loft-np-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

enum NumPyPython {
    /// True when python3 with numpy can be run; the round-trip tests are skipped otherwise.
    static let available: Bool = (try? run("import numpy")) != nil

    /// Runs a Python script with arguments; returns stdout, throws with stderr on failure.
    @discardableResult
    static func run(_ script: String, _ arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PythonFailed(message: String(decoding: errors, as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self)
    }

    struct PythonFailed: Error, CustomStringConvertible { let message: String; var description: String { message } }
}

extension TensorData {
    /// A copy of the bytes, taken while the owner (mapping or buffer) is certainly alive.
    var npyTestBytes: [UInt8] { withExtendedLifetime(self) { Array(bytes) } }
}
