// Shared by the adapter tests: where the fixtures are, scratch directories, reading tensors
// as float64, and writing small hand-made adapters.

import Foundation
@_exported import TestSupport
import Testing
import TensorIO
@testable import Adapters

enum Fixture {
    static let root = Repository.root
    static func path(_ name: String) -> String { root.appendingPathComponent("fixtures/adapters/\(name)").path }
}


struct LoadedTensors {
    var infos: [String: TensorInfo] = [:]
    var values: [String: [Double]] = [:]
    var bytes: [String: [UInt8]] = [:]
    var names: [String] { infos.keys.sorted() }

    init(_ path: String) throws {
        let reader = try TensorFile.open(path)
        for info in reader.tensors {
            let data = try reader.data(for: info.name)
            infos[info.name] = info
            bytes[info.name] = Array(data.bytes)
            values[info.name] = try doubles(data)
        }
    }
}

func doubles(_ data: TensorData) throws -> [Double] {
    let count = data.info.elementCount
    var out = [Double](repeating: 0, count: count)
    try out.withUnsafeMutableBytes { try DTypeConversion.convert(from: data.info.dtype, source: data.bytes, to: .F64, destination: $0, count: count) }
    return out
}

func f32Tensor(_ name: String, _ shape: [Int], _ values: [Float]) -> TensorData {
    precondition(values.count == shape.reduce(1, *))
    let buffer = values.withUnsafeBytes { ByteBuffer(copying: $0) }
    return TensorData(info: TensorInfo(name: name, dtype: .F32, shape: shape), buffer: buffer)
}

/// Writes a PEFT adapter directory from tensors and a config JSON text.
func writePeftAdapter(_ directory: String, config: String, tensors: [TensorData]) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try config.write(toFile: directory + "/adapter_config.json", atomically: true, encoding: .utf8)
    try SafetensorsWriter.write(to: directory + "/adapter_model.safetensors", tensors: tensors, metadata: [("format", "pt")])
}

/// Copies a fixture adapter and replaces its config (the tensors stay those PEFT wrote).
func adapterWithConfig(_ fixture: String, in scratch: ScratchDirectory, edit: (String) -> String) throws -> String {
    let directory = scratch.file(fixture + "-edited")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: Fixture.path(fixture) + "/adapter_model.safetensors", toPath: directory + "/adapter_model.safetensors")
    let config = try String(contentsOfFile: Fixture.path(fixture) + "/adapter_config.json", encoding: .utf8)
    try edit(config).write(toFile: directory + "/adapter_config.json", atomically: true, encoding: .utf8)
    return directory
}

/// Runs a merge and returns the report.
@discardableResult
func merge(base: String, adapters: [AdapterSource], out: String, configure: (inout MergeOptions) -> Void = { _ in }) throws -> MergeReport {
    var options = MergeOptions(base: base, adapters: adapters, output: out)
    configure(&options)
    return try AdapterMerge.run(options)
}

/// Float32 rounding level: a few units in the last place of the tensor's largest value.
func float32Tolerance(_ values: [Double]) -> Double {
    let largest = values.map(abs).max() ?? 0
    return 8 * Double(Float(largest).ulp)
}

/// The error an expression throws, as the AdapterError the tests compare.
func adapterError(_ body: () throws -> Void) -> AdapterError? {
    do { try body() } catch let error as AdapterError { return error } catch { Issue.record("unexpected error \(error)") }
    return nil
}
