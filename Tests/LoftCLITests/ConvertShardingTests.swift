// Sharded checkpoints: --max-shard-size splits into Hugging Face shards + index; a sharded
// input merges back into one file with the same tensors.

import Foundation
import Testing
import TensorIO

@Suite struct ConvertShardingTests {
    @Test func maxShardSizeWritesShardsAndAnIndex() throws {
        let scratch = ScratchDirectory()
        let directory = scratch.file("sharded")
        let result = loft("convert", Repo.fixture("small.safetensors"), directory, "--max-shard-size", "3kB")
        #expect(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files.contains("model.safetensors.index.json"))
        let shards = files.filter { $0.hasSuffix(".safetensors") }
        #expect(shards.count >= 2)
        for shard in shards {
            #expect(shard.range(of: #"^model-\d{5}-of-\d{5}\.safetensors$"#, options: .regularExpression) != nil)
        }
        let index = try JSON.parse(String(contentsOfFile: directory + "/model.safetensors.index.json", encoding: .utf8))
        // 512*4 + 768*4 + 48*4 + 1024*4 + 16*8 + 32*8 + 8 + 10*4 data bytes.
        #expect(index["metadata"]?["total_size"]?.intValue == 9_840)
        #expect(index["weight_map"]?.objectMembers?.count == 8)
        try expectSameTensors(Repo.fixture("small.safetensors"), directory)
    }

    @Test func indexPathAsOutputWritesIntoItsDirectory() throws {
        let scratch = ScratchDirectory()
        let index = scratch.file("model.safetensors.index.json")
        #expect(loft("convert", Repo.fixture("small.safetensors"), index, "--max-shard-size", "5kB").status == 0)
        try expectSameTensors(Repo.fixture("small.safetensors"), index)
    }

    @Test func shardedInputMergesIntoOneFile() throws {
        let scratch = ScratchDirectory()
        let merged = scratch.file("merged.safetensors")
        let result = loft("convert", Repo.fixture("sharded"), merged)
        #expect(result.status == 0, "\(result.stderr)")
        try expectSameTensors(Repo.fixture("small.safetensors"), merged)
        // The index's total_size is computed, not metadata to carry over.
        let json = try inspectJSON(merged)
        #expect(json["metadata"]?["total_size"] == nil)
    }
}
