// The shape of what `loft merge` writes: the base's sharding kept (same shard names, index
// rewritten, config files copied), resharding on request, .npz, and no trace at OUT when a
// merge fails or would overwrite its input.

import Foundation
import Testing
import TensorIO
@testable import Adapters

@Suite struct MergeOutputTests {
    let scratch = ScratchDirectory()
    let sharded = Fixture.path("llama-sharded")
    let lora = [AdapterSource(path: Fixture.path("peft-llama-lora"))]

    func files(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    @Test func aShardedBaseKeepsItsShardsAndIndex() throws {
        let out = scratch.file("merged")
        try merge(base: sharded, adapters: lora, out: out)
        #expect(try files(out) == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"])
        let reader = try ShardedSafetensorsReader(path: out)
        let base = try ShardedSafetensorsReader(path: sharded)
        // The index lists tensors by name (as Hugging Face writes it), so compare shard by file.
        func byFile(_ r: ShardedSafetensorsReader) -> [String: Set<String>] {
            Dictionary(uniqueKeysWithValues: r.shards.map { ($0.file, Set($0.tensors)) })
        }
        #expect(byFile(reader) == byFile(base))
        #expect(reader.metadata.first { $0.key == "total_size" }?.value == "99968")
        // Same values as the single-file merge.
        let single = try LoadedTensors(Fixture.path("expected-llama-lora.safetensors"))
        let merged = try LoadedTensors(out)
        for name in single.names {
            let worst = zip(merged.values[name]!, single.values[name]!).map { abs($0 - $1) }.max()!
            #expect(worst <= float32Tolerance(single.values[name]!))
        }
        #expect(try String(contentsOfFile: out + "/config.json", encoding: .utf8) == String(contentsOfFile: sharded + "/config.json", encoding: .utf8))
    }

    @Test func maxShardSizeReshards() throws {
        let out = scratch.file("resharded")
        try merge(base: Fixture.path("llama-base.safetensors"), adapters: lora, out: out) { $0.maxShardSize = 30_000 }
        let names = try files(out)
        #expect(names.contains("model.safetensors.index.json"))
        let shards = names.filter { $0.hasSuffix(".safetensors") }
        #expect(shards.count >= 4 && shards.allSatisfy { $0.hasPrefix("model-0000") && $0.hasSuffix("-of-0000\(shards.count).safetensors") })
        for shard in shards {
            let reader = try SafetensorsReader(path: out + "/" + shard)
            // A shard may exceed the limit only when it holds a single larger tensor.
            #expect(reader.totalBytes <= 30_000 || reader.tensors.count == 1)
        }
        #expect(try LoadedTensors(out).names == LoadedTensors(Fixture.path("llama-base.safetensors")).names)
    }

    @Test func aFailedMergeLeavesNothingAtOut() throws {
        let out = scratch.file("failed")
        let adapter = scratch.file("nan")
        try writePeftAdapter(adapter, config: #"{"peft_type": "LORA", "r": 1, "lora_alpha": 1}"#, tensors: [
            f32Tensor("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight", [1, 64], .init(repeating: .nan, count: 64)),
            f32Tensor("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", [32, 1], .init(repeating: 1, count: 32)),
        ])
        #expect(throws: AdapterError.nonFinite(tensor: "model.layers.1.mlp.down_proj.weight", count: 2048)) {
            try merge(base: sharded, adapters: [AdapterSource(path: adapter)], out: out)
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try files(scratch.path) == ["nan"])  // no temporary directory left either
    }

    @Test func anExistingOutputDirectoryKeepsItsOtherFiles() throws {
        let out = scratch.file("existing")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "old".write(toFile: out + "/marker", atomically: true, encoding: .utf8)
        // An earlier checkpoint's shard the new one does not have: replaced with the rest.
        try "stale".write(toFile: out + "/model-00001-of-00003.safetensors", atomically: true, encoding: .utf8)
        #expect(throws: OutputError.directoryNotEmpty(path: out)) { try merge(base: sharded, adapters: lora, out: out) }
        try merge(base: sharded, adapters: lora, out: out) { $0.overwrite = true }
        #expect(try files(out) == ["config.json", "marker", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"])
        #expect(try String(contentsOfFile: out + "/marker", encoding: .utf8) == "old")
        #expect(try files(scratch.path) == ["existing"])
    }

    @Test func theBaseIsNeverOverwritten() throws {
        let copy = scratch.file("base.safetensors")
        try FileManager.default.copyItem(atPath: Fixture.path("llama-base.safetensors"), toPath: copy)
        #expect(throws: OutputError.overlapsInput(path: copy, input: copy, relation: .isInput)) {
            try merge(base: copy, adapters: lora, out: copy) { $0.overwrite = true }
        }
    }

    @Test func npzInNpzOut() throws {
        // The base as .npz (written by loft's NpzWriter from the safetensors fixture).
        let base = try LoadedTensors(Fixture.path("llama-base.safetensors"))
        let npz = scratch.file("base.npz")
        let reader = try SafetensorsReader(path: Fixture.path("llama-base.safetensors"))
        try NpzWriter.write(to: npz, tensors: reader.tensors, compress: false) { try reader.data(for: $0.name) }
        let out = scratch.file("merged.npz")
        try merge(base: npz, adapters: lora, out: out)
        let merged = try LoadedTensors(out)
        let expected = try LoadedTensors(Fixture.path("expected-llama-lora.safetensors"))
        #expect(merged.names == base.names)
        for name in expected.names {
            let worst = zip(merged.values[name]!, expected.values[name]!).map { abs($0 - $1) }.max()!
            #expect(worst <= float32Tolerance(expected.values[name]!))
        }
    }

    @Test func untyingTheHeadRewritesTheCopiedConfig() throws {
        // A tied LLaMA: the sharded fixture without lm_head, config saying tie_word_embeddings.
        let base = scratch.file("tied")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let reader = try SafetensorsReader(path: Fixture.path("llama-base.safetensors"))
        let kept = reader.tensors.filter { $0.name != "lm_head.weight" }
        try SafetensorsWriter.write(to: base + "/model.safetensors", tensors: kept, metadata: [("format", "pt")]) { try reader.data(for: $0.name) }
        try #"{"model_type": "llama", "tie_word_embeddings": true}"#.write(toFile: base + "/config.json", atomically: true, encoding: .utf8)
        let out = scratch.file("merged")
        let report = try merge(base: base, adapters: [AdapterSource(path: Fixture.path("peft-llama-embedding"))], out: out)
        #expect(report.untied == ["lm_head.weight"] && report.configUntied)
        let config = try JSON.parse(String(contentsOfFile: out + "/config.json", encoding: .utf8))
        #expect(config["tie_word_embeddings"] == .bool(false))
        let merged = try LoadedTensors(out + "/model.safetensors")
        #expect(merged.bytes["lm_head.weight"] == (try LoadedTensors(Fixture.path("llama-base.safetensors"))).bytes["model.embed_tokens.weight"])
    }

    @Test func anAdapterOnATiedHeadMergesIntoANewHead() throws {
        // lm_head targeted on GPT-2 (tied to wte): the head becomes wte + delta, wte stays.
        let adapter = scratch.file("head")
        let a: [Float] = (0..<64).map { Float($0 % 7) * 0.125 }      // 2 x 32
        let b: [Float] = (0..<200).map { Float($0 % 5) * 0.25 - 0.5 } // 100 x 2
        try writePeftAdapter(adapter, config: #"{"peft_type": "LORA", "r": 2, "lora_alpha": 4}"#, tensors: [
            f32Tensor("base_model.model.lm_head.lora_A.weight", [2, 32], a),
            f32Tensor("base_model.model.lm_head.lora_B.weight", [100, 2], b),
        ])
        let out = scratch.file("merged.safetensors")
        let report = try merge(base: Fixture.path("gpt2-base.safetensors"), adapters: [AdapterSource(path: adapter)], out: out)
        #expect(report.untied == ["lm_head.weight"])
        let merged = try LoadedTensors(out)
        let base = try LoadedTensors(Fixture.path("gpt2-base.safetensors"))
        #expect(merged.bytes["wte.weight"] == base.bytes["wte.weight"])
        let wte = base.values["wte.weight"]!
        for i in 0..<100 {
            for j in 0..<32 {
                let delta = 2.0 * (Double(b[2 * i]) * Double(a[j]) + Double(b[2 * i + 1]) * Double(a[32 + j]))
                #expect(merged.values["lm_head.weight"]![i * 32 + j] == Double(Float(wte[i * 32 + j] + delta)))
            }
        }
    }
}
