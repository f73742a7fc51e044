import Foundation
@testable import TensorIO

/// The cases of fixtures/dtypes/conversions.json (made by fixtures/generators/dtypes.py from
/// NumPy and ml_dtypes): raw input bytes, the dtypes, and the bytes the reference produced.
struct ConversionCase: CustomStringConvertible {
    var from: DType
    var to: DType
    var count: Int
    var source: [UInt8]
    var expected: [UInt8]
    var reference: String

    var description: String { "\(from.rawValue) -> \(to.rawValue) (\(count) values, \(reference))" }
}

enum DTypeFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/dtypes")

    static func json(_ name: String) throws -> JSONValue {
        try JSON.parse(String(decoding: Data(contentsOf: directory.appendingPathComponent(name)), as: UTF8.self))
    }

    /// Bytes of one array stored in a blob: `{"file", "offset", "count"}`.
    static func bytes(_ location: JSONValue, dtype: DType) throws -> [UInt8] {
        let file = try require2(location["file"]?.stringValue)
        let offset = try require2(location["offset"]?.intValue)
        let count = try require2(location["count"]?.intValue)
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        let length = count * dtype.byteWidth!
        return [UInt8](data[offset..<(offset + length)])
    }

    static func conversionCases() throws -> [ConversionCase] {
        try (json("conversions.json").arrayValue ?? []).map { entry in
            let from = try require2(entry["from"]?.stringValue.flatMap(DType.init(rawValue:)))
            let to = try require2(entry["to"]?.stringValue.flatMap(DType.init(rawValue:)))
            return ConversionCase(
                from: from, to: to, count: try require2(entry["source"]?["count"]?.intValue),
                source: try bytes(entry["source"]!, dtype: from), expected: try bytes(entry["expected"]!, dtype: to),
                reference: entry["reference"]?.stringValue ?? "")
        }
    }
}

struct MissingFixtureField: Error {}

/// Unwraps a manifest field (a helper usable outside a test function).
func require2<T>(_ value: T?) throws -> T {
    guard let value else { throw MissingFixtureField() }
    return value
}

/// Converts a case's input with loft and returns the differing elements as readable lines
/// (at most `limit`), so a failing expectation shows what went wrong.
func mismatches(_ c: ConversionCase, limit: Int = 8) throws -> [String] {
    var output = [UInt8](repeating: 0xEE, count: c.expected.count)
    try c.source.withUnsafeBytes { source in
        try output.withUnsafeMutableBytes { destination in
            try DTypeConversion.convert(from: c.from, source: source, to: c.to, destination: destination, count: c.count)
        }
    }
    let inWidth = c.from.byteWidth!, outWidth = c.to.byteWidth!
    var lines: [String] = []
    for i in 0..<c.count where output[(i * outWidth)..<((i + 1) * outWidth)] != c.expected[(i * outWidth)..<((i + 1) * outWidth)] {
        if lines.count == limit { lines.append("..."); break }
        func hex(_ bytes: ArraySlice<UInt8>) -> String { "0x" + bytes.reversed().map { String(format: "%02x", $0) }.joined() }
        lines.append("[\(i)] \(hex(c.source[(i * inWidth)..<((i + 1) * inWidth)])) -> loft \(hex(output[(i * outWidth)..<((i + 1) * outWidth)])), expected \(hex(c.expected[(i * outWidth)..<((i + 1) * outWidth)]))")
    }
    return lines
}
