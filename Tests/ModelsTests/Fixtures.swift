// Finding and reading the committed fixtures (fixtures/models/, made by
// fixtures/generators/models.py).

import Foundation
@_exported import TestSupport
import Testing
import TensorIO
@testable import Models

enum Fixtures {
    static let directory = Repository.root.appendingPathComponent("fixtures/models")

    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    static func reader(_ relative: String) throws -> TensorReader { try SafetensorsReader(path: path(relative)) }

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
