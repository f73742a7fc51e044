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

    /// A GPT-2 fixture's `input_ids` [2, 16] and Hugging Face's shifted targets (the last
    /// position of each row predicts nothing).
    static func gpt2TokensAndTargets(_ directory: String, batch: Int = 2, sequence: Int = 16) throws -> ([Int32], [Int32]) {
        let ids = try ints(try reader(directory + "/input_ids.safetensors"), "input_ids")
        var targets = [Int32](repeating: CrossEntropy.ignoreIndex, count: ids.count)
        for b in 0..<batch { for t in 0..<(sequence - 1) { targets[b * sequence + t] = ids[b * sequence + t + 1] } }
        return (ids, targets)
    }

    /// max |a - b| / max(max |b|, floor).
    static func relativeError(_ a: [Float], _ b: [Float], floor: Float = 1e-6) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
        var difference: Float = 0, size = floor
        for i in a.indices { difference = max(difference, abs(a[i] - b[i])); size = max(size, abs(b[i])) }
        return difference / size
    }
}
