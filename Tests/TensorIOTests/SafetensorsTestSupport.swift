// Shared by the Safetensors* tests: where the fixtures are, hex, small tensors. Scratch
// directories and the Python runner come from TestSupport.

import Foundation
@_exported import TestSupport
@testable import TensorIO

enum SafetensorsFixtures {
    static let root = Repository.root.appendingPathComponent("fixtures/safetensors")

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


func tensorData(_ info: TensorInfo, _ bytes: [UInt8]) -> TensorData {
    let buffer = ByteBuffer(count: bytes.count)
    if !bytes.isEmpty { buffer.bytes.copyBytes(from: bytes) }
    return TensorData(info: info, buffer: buffer)
}

func f32Tensor(_ name: String, _ values: [Float], shape: [Int]? = nil) -> TensorData {
    tensorData(TensorInfo(name: name, dtype: .F32, shape: shape ?? [values.count]), values.withUnsafeBytes { Array($0) })
}

