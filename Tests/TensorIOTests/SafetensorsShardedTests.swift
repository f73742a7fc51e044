// Sharded checkpoints: the reference-made fixture reads back, rewrites byte-identically
// (shards and index), `weight_map` is the truth, and size limits parse as Hugging Face means.

import Foundation
import Testing
@testable import TensorIO

@Suite struct SafetensorsShardedTests {
    static let expected = SafetensorsFixtures.expected["sharded"]!

    @Test func readsTheShardedFixture() throws {
        for path in [SafetensorsFixtures.path("sharded"), SafetensorsFixtures.path("sharded/model.safetensors.index.json")] {
            let reader = try ShardedSafetensorsReader(path: path)
            #expect(reader.format == "safetensors-sharded")
            #expect(reader.metadata.map(\.key) == ["total_size"])
            #expect(reader.metadata.first?.value == String(Self.expected["total_size"]!.intValue!))
            let shards = Self.expected["shards"]!.objectMembers!
            #expect(reader.shards.map(\.file) == shards.map(\.key))
            #expect(reader.shards.map(\.tensors) == shards.map { $0.value.arrayValue!.map { $0.stringValue! } })
            let tensors = Self.expected["tensors"]!.objectMembers!
            #expect(reader.tensors.map(\.name) == tensors.map(\.key))
            for member in tensors {
                let data = try reader.data(for: member.key)
                #expect(data.info.dtype.rawValue == member.value["dtype"]!.stringValue!)
                #expect(data.info.shape == member.value["shape"]!.arrayValue!.map { $0.intValue! })
                #expect(Array(data.bytes) == SafetensorsFixtures.hex(member.value["hex"]!.stringValue!))
                reader.release(member.key)
            }
        }
    }

    @Test func rewriteIsByteIdenticalToTheReference() throws {
        let reader = try ShardedSafetensorsReader(path: SafetensorsFixtures.path("sharded"))
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try ShardedSafetensorsWriter.write(directory: scratch.path, tensors: reader.tensors, metadata: [],
                                           maxShardSize: Self.expected["max_shard_size"]!.intValue!) { try reader.data(for: $0.name) }
        let files = try FileManager.default.contentsOfDirectory(atPath: SafetensorsFixtures.path("sharded")).sorted()
        #expect(scratch.contents() == files)
        for file in files {
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: scratch.file(file)))) == (try SafetensorsFixtures.bytes("sharded/\(file)")), "\(file)")
        }
    }

    @Test func oneShardIsAPlainFileWithoutIndex() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let tensors = [f32Tensor("a", [1, 2]), f32Tensor("b", [3])]
        // Other files stay. (An earlier checkpoint's shards are the output policy's to remove,
        // when the staging directory is committed: OutputTargetTests.)
        try Data().write(to: URL(fileURLWithPath: scratch.file("notes.txt")))
        try ShardedSafetensorsWriter.write(directory: scratch.path, tensors: tensors.map(\.info), metadata: [("source", "test")]) { info in
            tensors.first { $0.info.name == info.name }!
        }
        #expect(scratch.contents() == ["model.safetensors", "notes.txt"])
        let reader = try ShardedSafetensorsReader.open(directory: scratch.path)
        #expect(reader is SafetensorsReader)
        #expect(reader.metadata.map(\.key) == ["format", "source"])
        let asSharded = try ShardedSafetensorsReader(path: scratch.path)
        #expect(asSharded.shards.map(\.file) == ["model.safetensors"])
        #expect(asSharded.tensors.map(\.name) == ["a", "b"])
    }

    @Test func splitFollowsHuggingFaceHub() {
        let sizes = [6, 6, 2, 6, 2, 2]  // huggingface_hub's docstring example, limit 10
        let infos = sizes.enumerated().map { TensorInfo(name: "t\($0.offset)", dtype: .U8, shape: [$0.element]) }
        let plan = ShardedSafetensorsWriter.plan(tensors: infos, maxShardSize: 10)
        #expect(plan.map { $0.tensors.map(\.name) } == [["t0"], ["t1", "t2"], ["t3", "t4", "t5"]])
        #expect(plan.map(\.file) == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"])
        let big = ShardedSafetensorsWriter.plan(tensors: [infos[2], TensorInfo(name: "huge", dtype: .U8, shape: [50]), infos[4]], maxShardSize: 10)
        #expect(big.map { $0.tensors.map(\.name) } == [["huge"], ["t2", "t4"]])
    }

    @Test func weightMapIsTheTruth() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try SafetensorsWriter.write(to: scratch.file("s1.safetensors"), tensors: [f32Tensor("kept", [1]), f32Tensor("extra", [2])])
        let index = #"{"metadata": {"total_size": 4}, "weight_map": {"kept": "s1.safetensors"}}"#
        try Data(index.utf8).write(to: URL(fileURLWithPath: scratch.file("model.safetensors.index.json")))
        let reader = try ShardedSafetensorsReader(path: scratch.path)
        #expect(reader.tensors.map(\.name) == ["kept"])
        #expect(throws: SafetensorsError.tensorNotFound(path: scratch.path, tensor: "extra")) { try reader.data(for: "extra") }
    }

    @Test func canonicallyEquivalentNamesStayDistinct() throws {
        // "é" (U+00E9) and "e" + U+0301 are equal as Swift Strings but different tensor names.
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try SafetensorsWriter.write(to: scratch.file("s1.safetensors"), tensors: [f32Tensor("\u{e9}", [1]), f32Tensor("e\u{301}", [2])])
        let index = "{\"weight_map\": {\"\u{e9}\": \"s1.safetensors\", \"e\u{301}\": \"s1.safetensors\"}}"
        try Data(index.utf8).write(to: URL(fileURLWithPath: scratch.file("model.safetensors.index.json")))
        let reader = try ShardedSafetensorsReader(path: scratch.path)
        #expect(reader.tensors.map { Array($0.name.utf8) } == [[0xC3, 0xA9], [0x65, 0xCC, 0x81]])
        #expect(Array(try reader.data(for: "e\u{301}").bytes) == [Float(2)].withUnsafeBytes { Array($0) })
        #expect(Array(try reader.data(for: "\u{e9}").bytes) == [Float(1)].withUnsafeBytes { Array($0) })
    }

    @Test func missingShardAndMissingTensorNameBoth() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try SafetensorsWriter.write(to: scratch.file("s1.safetensors"), tensors: [f32Tensor("a", [1])])
        let indexPath = scratch.file("model.safetensors.index.json")
        try Data(#"{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: indexPath))
        #expect(throws: SafetensorsError.missingShard(path: indexPath, tensor: "b", shard: "s2.safetensors")) {
            try ShardedSafetensorsReader(path: indexPath)
        }
        try Data(#"{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: indexPath))
        #expect(throws: SafetensorsError.tensorMissingFromShard(path: indexPath, tensor: "b", shard: "s1.safetensors")) {
            try ShardedSafetensorsReader(path: indexPath)
        }
        try Data(#"{"weight_map": {"a": "../s1.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: indexPath))
        #expect(throws: SafetensorsError.self) { try ShardedSafetensorsReader(path: indexPath) }
        try Data(#"{"metadata": {}}"#.utf8).write(to: URL(fileURLWithPath: indexPath))
        #expect(throws: SafetensorsError.invalidIndex(path: indexPath, reason: "no \"weight_map\" object")) {
            try ShardedSafetensorsReader(path: indexPath)
        }
    }

    @Test func nothingIsLeftWhenAShardFails() throws {
        struct Boom: Error {}
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let infos = (0..<4).map { TensorInfo(name: "t\($0)", dtype: .F32, shape: [4]) }
        #expect(throws: Boom.self) {
            try ShardedSafetensorsWriter.write(directory: scratch.path, tensors: infos, maxShardSize: 16) { info in
                if info.name == "t3" { throw Boom() }
                return tensorData(info, [UInt8](repeating: 1, count: 16))
            }
        }
        #expect(scratch.contents().isEmpty)
    }

    @Test func shardSizesUseDecimalAndBinaryUnits() throws {
        #expect(try ShardSize.parse("5GB") == 5_000_000_000)
        #expect(try ShardSize.parse("500MB") == 500_000_000)
        #expect(try ShardSize.parse("2GiB") == 2 * 1_073_741_824)
        #expect(try ShardSize.parse("10kb") == 10_000)
        #expect(try ShardSize.parse("1.5GB") == 1_500_000_000)
        #expect(try ShardSize.parse(" 1234 ") == 1234)
        #expect(try ShardSize.parse("64B") == 64)
        for bad in ["", "GB", "-5GB", "5XB", "1e3MB", "0", "abc"] {
            #expect(throws: SafetensorsError.self, "\(bad)") { try ShardSize.parse(bad) }
        }
    }
}
