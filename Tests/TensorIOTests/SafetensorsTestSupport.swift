// Shared by the Safetensors* tests: where the fixtures are, hex, scratch directories, and
// running the Python reference when it is installed.

import Foundation
@testable import TensorIO

enum SafetensorsFixtures {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("fixtures/safetensors")
    }()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func bytes(_ relative: String) throws -> [UInt8] { Array(try Data(contentsOf: root.appendingPathComponent(relative))) }

    /// fixtures/safetensors/expected.json, written by the generator from numpy's bytes.
    static let expected: JSONValue = try! JSON.parse(String(decoding: bytes("expected.json"), as: UTF8.self))

    static func hex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            out.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return out
    }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "loft-st-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func tensorData(_ info: TensorInfo, _ bytes: [UInt8]) -> TensorData {
    let buffer = ByteBuffer(count: bytes.count)
    if !bytes.isEmpty { buffer.bytes.copyBytes(from: bytes) }
    return TensorData(info: info, buffer: buffer)
}

func f32Tensor(_ name: String, _ values: [Float], shape: [Int]? = nil) -> TensorData {
    tensorData(TensorInfo(name: name, dtype: .F32, shape: shape ?? [values.count]), values.withUnsafeBytes { Array($0) })
}

enum PythonReference {
    /// Runs a Python script with the given arguments; nil when python3 or safetensors/numpy
    /// cannot be imported (the caller skips and says so).
    static func run(_ script: String, _ arguments: [String]) throws -> String? {
        guard available else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PythonFailure(status: process.terminationStatus) }
        return String(decoding: data, as: UTF8.self)
    }

    struct PythonFailure: Error { var status: Int32 }

    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy, safetensors.numpy, ml_dtypes"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}
