// The commands over the readers' own fixtures (made by safetensors and numpy, described by
// fixtures/safetensors/expected.json and fixtures/numpy/manifest.json): every dtype, every
// npy variant, the npz variants; inspect reports what the reference wrote, and a convert to
// the same format reproduces the reference's bytes.

import Foundation
import Testing
import TensorIO

enum ReferenceFixtures {
    static func load(_ relative: String) throws -> JSONValue {
        try JSON.parse(String(contentsOfFile: Repo.root.appendingPathComponent("fixtures/\(relative)").path, encoding: .utf8))
    }
    static func path(_ relative: String) -> String { Repo.root.appendingPathComponent("fixtures/\(relative)").path }

    /// (file path, expected tensors) for every readable fixture of both manifests.
    static func all() throws -> [(path: String, format: String, tensors: [JSONValue], metadata: JSONValue?)] {
        var result: [(String, String, [JSONValue], JSONValue?)] = []
        for member in try load("safetensors/expected.json")["files"]?.objectMembers ?? [] {
            result.append((path("safetensors/\(member.key)"), "safetensors", member.value["tensors"]?.arrayValue ?? [], member.value["metadata"]))
        }
        let numpy = try load("numpy/manifest.json")
        for (kind, folder) in [("npy", "numpy/npy"), ("npz", "numpy/npz")] {
            for member in numpy[kind]?.objectMembers ?? [] {
                result.append((path("\(folder)/\(member.key)"), kind, member.value.arrayValue ?? [], nil))
            }
        }
        return result
    }
}

@Suite struct ReferenceFixtureTests {
    @Test func inspectReportsWhatTheReferenceWrote() throws {
        let fixtures = try ReferenceFixtures.all()
        #expect(fixtures.count > 40)
        for fixture in fixtures {
            let result = loft("inspect", "--json", fixture.path)
            #expect(result.status == 0, "\(fixture.path): \(result.stderr)")
            guard result.status == 0 else { continue }
            let json = try JSON.parse(result.stdout)
            #expect(json["format"]?.stringValue == fixture.format)
            let got = (json["tensors"]?.arrayValue ?? []).map { [$0["name"], $0["dtype"], $0["shape"]] }
            let want = fixture.tensors.map { [$0["name"], $0["dtype"], $0["shape"]] }
            #expect(got.count == want.count, "\(fixture.path)")
            for entry in want { #expect(got.contains(entry), "\(fixture.path): \(entry)") }
            // The manifest lists metadata as [key, value] pairs in header order.
            if let pairs = fixture.metadata?.arrayValue {
                let want = JSONValue.object(pairs.compactMap { pair in
                    pair.arrayValue.flatMap { $0.count == 2 ? JSONMember($0[0].stringValue ?? "", $0[1]) : nil }
                })
                #expect(json["metadata"] == want, "\(fixture.path)")
            }
        }
    }

    @Test func safetensorsCopiesAreByteIdentical() throws {
        let scratch = ScratchDirectory()
        for member in try ReferenceFixtures.load("safetensors/expected.json")["files"]?.objectMembers ?? [] {
            guard member.value["byte_identical"]?.boolValue == true, !member.key.contains("empty") else { continue }
            let source = ReferenceFixtures.path("safetensors/\(member.key)")
            let out = scratch.file("copy.safetensors")
            let result = loft("convert", source, out)
            #expect(result.status == 0, "\(member.key): \(result.stderr)")
            #expect(FileManager.default.contentsEqual(atPath: source, andPath: out), "\(member.key)")
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    @Test func npySavedByNumPyIsRewrittenByteIdentically() throws {
        let scratch = ScratchDirectory()
        let identical = try ReferenceFixtures.load("numpy/manifest.json")["np_save_identical"]?.arrayValue ?? []
        #expect(!identical.isEmpty)
        for name in identical.compactMap(\.stringValue) {
            let source = ReferenceFixtures.path("numpy/npy/\(name)")
            let out = scratch.file("copy.npy")
            let result = loft("convert", source, out)
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(FileManager.default.contentsEqual(atPath: source, andPath: out), "\(name)")
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    @Test func numpyFixturesKeepTheirValuesThroughNpz() throws {
        let scratch = ScratchDirectory()
        let manifest = try ReferenceFixtures.load("numpy/manifest.json")
        for (kind, folder) in [("npy", "numpy/npy"), ("npz", "numpy/npz")] {
            for member in manifest[kind]?.objectMembers ?? [] {
                let tensors = member.value.arrayValue ?? []
                guard !tensors.isEmpty else { continue }
                let out = scratch.file("out.npz")
                let result = loft("convert", ReferenceFixtures.path("\(folder)/\(member.key)"), out)
                #expect(result.status == 0, "\(member.key): \(result.stderr)")
                guard result.status == 0 else { continue }
                let written = try tensorsOf(out)
                for tensor in tensors {
                    let name = try #require(tensor["name"]?.stringValue)
                    let raw = try Data(contentsOf: URL(fileURLWithPath: ReferenceFixtures.path("numpy/\(tensor["raw"]!.stringValue!)")))
                    #expect(written[name].map { Data($0.1) } == raw, "\(member.key): \(name)")
                }
                try? FileManager.default.removeItem(atPath: out)
            }
        }
    }

    @Test func shardedReferenceCheckpointListsItsFourShards() throws {
        let json = try inspectJSON(ReferenceFixtures.path("safetensors/sharded"))
        #expect(json["shards"]?.arrayValue?.count == 4)
        let scratch = ScratchDirectory()
        let merged = scratch.file("merged.safetensors")
        #expect(loft("convert", ReferenceFixtures.path("safetensors/sharded"), merged).status == 0)
        try expectSameTensors(ReferenceFixtures.path("safetensors/sharded"), merged)
    }
}
