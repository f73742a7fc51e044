// Finding and reading the committed fixtures (fixtures/models/, made by
// fixtures/generators/models.py).

import Foundation
import Testing
import TensorIO
@testable import Models

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/models")

    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    static func reader(_ relative: String) throws -> TensorReader { try FixtureSafetensorsReader(path: path(relative)) }

    static func floats(_ reader: TensorReader, _ name: String) throws -> [Float] {
        let info = try #require(reader.info(for: name), "fixture tensor \(name) missing in \(reader.path)")
        return try loadFloats(reader, name: name, shape: info.shape).array
    }

    static func ints(_ reader: TensorReader, _ name: String) throws -> [Int32] {
        try reader.data(for: name).withElements(as: Int32.self) { Array($0) }
    }

    /// max |a - b| / max(max |b|, floor).
    static func relativeError(_ a: [Float], _ b: [Float], floor: Float = 1e-6) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
        var difference: Float = 0, size = floor
        for i in a.indices { difference = max(difference, abs(a[i] - b[i])); size = max(size, abs(b[i])) }
        return difference / size
    }
}

/// A minimal safetensors reader for the fixtures, so these tests do not depend on the
/// TensorIO readers they are not about. (Header: 8-byte little-endian length, JSON of
/// name -> {dtype, shape, data_offsets}, then the data.)
final class FixtureSafetensorsReader: TensorReader {
    let path: String
    let format = "safetensors"
    let metadata: [(key: String, value: String)] = []
    let tensors: [TensorInfo]
    private let file: MappedFile
    private var ranges: [String: Range<Int>] = [:]

    init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let length = Int(file.bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let header = try JSON.parse(UnsafeRawBufferPointer(rebasing: file.bytes[8..<(8 + length)]))
        var infos: [TensorInfo] = []
        for member in header.objectMembers ?? [] where member.key != "__metadata__" {
            let dtype = DType(rawValue: member.value["dtype"]!.stringValue!)!
            let shape = member.value["shape"]!.arrayValue!.map { $0.intValue! }
            let offsets = member.value["data_offsets"]!.arrayValue!.map { $0.intValue! }
            infos.append(TensorInfo(name: member.key, dtype: dtype, shape: shape))
            ranges[member.key] = (8 + length + offsets[0])..<(8 + length + offsets[1])
        }
        tensors = infos
    }

    func data(for name: String) throws -> TensorData {
        guard let info = info(for: name), let range = ranges[name] else { throw ModelError.missingTensor(path: path, name: name) }
        return TensorData(info: info, bytes: UnsafeRawBufferPointer(rebasing: file.bytes[range]), owner: file)
    }
}
