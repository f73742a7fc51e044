// `loft inspect --stats` against numpy's statistics of the same arrays
// (fixtures/cli/expected-stats.json, written by the generator).

import Foundation
import Testing
import TensorIO

@Suite struct InspectStatisticsTests {
    static func expected() throws -> JSONValue {
        try JSON.parse(String(contentsOfFile: Repo.fixture("expected-stats.json"), encoding: .utf8))
    }

    func close(_ actual: JSONValue?, _ expected: JSONValue?, tolerance: Double = 1e-6) -> Bool {
        guard let a = actual?.doubleValue, let e = expected?.doubleValue else { return actual == expected }
        return abs(a - e) <= tolerance * max(1, abs(e))
    }

    @Test(arguments: ["small.safetensors", "small.npz", "sharded"])
    func statsMatchNumPy(file: String) throws {
        let json = try inspectJSON(Repo.fixture(file), "--stats")
        let expected = try Self.expected()
        let tensors = try #require(json["tensors"]?.arrayValue)
        #expect(tensors.count == 8)
        for tensor in tensors {
            let name = try #require(tensor["name"]?.stringValue)
            let stats = try #require(tensor["stats"], "no stats for \(name)")
            let want = try #require(expected[name])
            for key in ["min", "max", "mean", "std"] {
                #expect(close(stats[key], want[key]), "\(name) \(key): \(String(describing: stats[key])) vs numpy \(String(describing: want[key]))")
            }
            for key in ["nan_count", "inf_count", "zero_count"] {
                #expect(stats[key]?.intValue == want[key]?.intValue, "\(name) \(key)")
            }
        }
    }

    @Test func specialValuesAreCounted() throws {
        let json = try inspectJSON(Repo.fixture("small.safetensors"), "--stats", "--filter", "special")
        let stats = try #require(json["tensors"]?[0]?["stats"])
        // [1.5, -2, 0, nan, inf, -inf, 0, 3.25, nan, -0.0]
        #expect(stats["nan_count"]?.intValue == 2)
        #expect(stats["inf_count"]?.intValue == 2)
        #expect(stats["zero_count"]?.intValue == 3)
    }

    @Test func unalignedDataIsFine() throws {
        // The reference accepts a header without padding: the F32 data then starts at an odd
        // address in the mapping.
        let path = Repo.root.appendingPathComponent("fixtures/safetensors/malformed/accept_no_padding.safetensors").path
        let json = try inspectJSON(path, "--stats")
        let stats = try #require(json["tensors"]?[0]?["stats"])
        #expect(stats["nan_count"]?.intValue == 0)
        #expect(stats["min"]?.doubleValue == stats["max"]?.doubleValue)
    }

    @Test func tableGetsStatisticColumns() {
        let result = loft("inspect", Repo.fixture("small.safetensors"), "--stats", "--filter", "special")
        #expect(result.status == 0)
        let header = result.stdout.split(separator: "\n").first { $0.hasPrefix("name ") }
        for column in ["min", "max", "mean", "std", "nan", "inf", "zeros"] {
            #expect(header?.contains(column) == true)
        }
        #expect(result.stdout.contains("3.25"))
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}
