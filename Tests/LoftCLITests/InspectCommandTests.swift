// `loft inspect` on the fixtures made by safetensors and numpy (fixtures/generators/cli.py):
// the table, the JSON schema of docs/commands/inspect.md, --filter, --stats against numpy.

import Foundation
import Testing
import TensorIO

/// The tensors fixtures/generators/cli.py writes: name -> (safetensors dtype, shape).
let smallCheckpoint: [String: (String, [Int])] = [
    "transformer.wte.weight": ("F32", [32, 16]),
    "transformer.h.0.attn.weight": ("F32", [16, 48]),
    "transformer.h.0.attn.bias": ("F32", [48]),
    "transformer.h.0.mlp.weight": ("F32", [16, 64]),
    "transformer.h.0.ln.weight": ("F64", [16]),
    "transformer.position_ids": ("I64", [1, 32]),
    "transformer.mask": ("BOOL", [8]),
    "transformer.special": ("F32", [10]),
]

func inspectJSON(_ arguments: String...) throws -> JSONValue {
    let result = loft(["inspect", "--json"] + arguments)
    #expect(result.status == 0, "\(result.stderr)")
    return try JSON.parse(result.stdout)
}

@Suite struct InspectCommandTests {
    @Test func tableListsEveryTensorWithDTypeShapeAndTotals() {
        let result = loft("inspect", Repo.fixture("small.safetensors"))
        #expect(result.status == 0)
        for (name, (dtype, shape)) in smallCheckpoint {
            let line = result.stdout.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            #expect(line != nil, "no row for \(name)")
            #expect(line?.contains(" \(dtype) ") == true)
            #expect(line?.contains("[" + shape.map(String.init).joined(separator: ", ") + "]") == true)
        }
        #expect(result.stdout.contains("format  pt"))
        let total = result.stdout.split(separator: "\n").first { $0.hasPrefix("total ") }
        // 512 + 768 + 48 + 1024 + 16 + 32 + 8 + 10 parameters.
        #expect(total?.contains("2,418") == true)
    }

    @Test func jsonHasTheDocumentedKeysAndValues() throws {
        let json = try inspectJSON(Repo.fixture("small.safetensors"))
        #expect(json.objectMembers?.map(\.key) == ["format", "path", "metadata", "tensors", "totals", "shards", "other_entries"])
        #expect(json["format"]?.stringValue == "safetensors")
        #expect(json["metadata"]?["format"]?.stringValue == "pt")
        let tensors = try #require(json["tensors"]?.arrayValue)
        #expect(tensors.count == smallCheckpoint.count)
        for tensor in tensors {
            #expect(tensor.objectMembers?.map(\.key) == ["name", "dtype", "shape", "parameters", "bytes"])
            let name = try #require(tensor["name"]?.stringValue)
            let (dtype, shape) = try #require(smallCheckpoint[name])
            #expect(tensor["dtype"]?.stringValue == dtype)
            #expect(tensor["shape"]?.arrayValue?.compactMap(\.intValue) == shape)
            let parameters = shape.reduce(1, *)
            #expect(tensor["parameters"]?.intValue == parameters)
            let width = ["F32": 4, "F64": 8, "I64": 8, "BOOL": 1][dtype]!
            #expect(tensor["bytes"]?.intValue == parameters * width)
        }
        #expect(json["totals"]?["tensors"]?.intValue == 8)
        #expect(json["totals"]?["by_dtype"]?["F32"]?["tensors"]?.intValue == 5)
        #expect(json["totals"]?["by_dtype"]?["I64"]?["bytes"]?.intValue == 256)
        #expect(json["shards"]?.arrayValue?.isEmpty == true)
    }

    @Test func shardedCheckpointSaysWhichFileHoldsEachTensor() throws {
        for path in [Repo.fixture("sharded"), Repo.fixture("sharded/model.safetensors.index.json")] {
            let json = try inspectJSON(path)
            #expect(json["format"]?.stringValue == "safetensors-sharded")
            let shards = try #require(json["shards"]?.arrayValue)
            #expect(shards.compactMap { $0["file"]?.stringValue } == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
            #expect(shards.compactMap { $0["tensors"]?.intValue } == [4, 4])
            let tensors = try #require(json["tensors"]?.arrayValue)
            let fileOf = Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"]!.stringValue!, $0["file"]?.stringValue) })
            #expect(fileOf["transformer.wte.weight"] == "model-00001-of-00002.safetensors")
            #expect(fileOf["transformer.special"] == "model-00002-of-00002.safetensors")
        }
        let table = loft("inspect", Repo.fixture("sharded"))
        #expect(table.stdout.contains("shards"))
        #expect(table.stdout.contains("model-00002-of-00002.safetensors"))
    }

    @Test func numpyFilesReportSafetensorsDTypeNames() throws {
        let npy = try inspectJSON(Repo.fixture("wte.npy"))
        #expect(npy["format"]?.stringValue == "npy")
        #expect(npy["tensors"]?.arrayValue?.count == 1)
        #expect(npy["tensors"]?[0]?["dtype"]?.stringValue == "F32")
        #expect(npy["tensors"]?[0]?["shape"]?.arrayValue?.compactMap(\.intValue) == [32, 16])

        for file in ["small.npz", "small-deflated.npz"] {
            let npz = try inspectJSON(Repo.fixture(file))
            #expect(npz["format"]?.stringValue == "npz")
            let tensors = try #require(npz["tensors"]?.arrayValue)
            #expect(Set(tensors.compactMap { $0["name"]?.stringValue }) == Set(smallCheckpoint.keys))
            for tensor in tensors {
                #expect(tensor["dtype"]?.stringValue == smallCheckpoint[tensor["name"]!.stringValue!]?.0)
            }
        }
    }

    @Test func filterKeepsMatchingNames() throws {
        let glob = try inspectJSON(Repo.fixture("small.safetensors"), "--filter", "transformer.h.0.*")
        #expect(glob["tensors"]?.arrayValue?.count == 4)
        #expect(glob["totals"]?["tensors"]?.intValue == 4)
        let substring = try inspectJSON(Repo.fixture("small.safetensors"), "--filter", "attn")
        #expect(Set(substring["tensors"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
            == ["transformer.h.0.attn.weight", "transformer.h.0.attn.bias"])
        let table = loft("inspect", Repo.fixture("small.safetensors"), "--filter", "*.bias")
        #expect(table.stdout.contains("(1 of 8 shown)"))
    }

    @Test func headerOnlyOnAHundredGigabyteCheckpoint() throws {
        // A sparse file: a real header declaring 100 GB of data that occupies no disk. Reading
        // any of the data would take minutes; inspect must answer from the header at once.
        let scratch = ScratchDirectory()
        let path = scratch.file("huge.safetensors")
        var header = Array(#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[25000000000],"data_offsets":[0,100000000000]}}"#.utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data(bytes))
        do { try handle.truncate(atOffset: UInt64(bytes.count) + 100_000_000_000) } catch {
            print("skipped: cannot make a sparse file here (\(error))")
            return
        }
        try handle.close()
        bytes.removeAll()
        let start = Date()
        let json = try inspectJSON(path)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(json["totals"]?["bytes"]?.intValue == 100_000_000_000)
        #expect(json["tensors"]?[0]?["parameters"]?.intValue == 25_000_000_000)
    }

    @Test func formatIsRecognisedByContentWithoutAnExtension() throws {
        let scratch = ScratchDirectory()
        for (fixture, copy, format) in [("small.safetensors", "weights.bin", "safetensors"), ("small.npz", "archive.data", "npz"),
                                        ("wte.npy", "array", "npy")] {
            try FileManager.default.copyItem(atPath: Repo.fixture(fixture), toPath: scratch.file(copy))
            let json = try inspectJSON(scratch.file(copy))
            #expect(json["format"]?.stringValue == format, "\(copy)")
        }
        try Data("not a tensor file".utf8).write(to: URL(fileURLWithPath: scratch.file("notes.txt")))
        let unknown = loft("inspect", scratch.file("notes.txt"))
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("unknown format"))
    }

    @Test func anAdapterDirectoryIsReportedAsAnAdapter() throws {
        let adapter = Repository.path("fixtures/adapters/peft-llama-lora")
        let text = loft("inspect", adapter)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("\(adapter): peft adapter, 14 module(s) (14 lora), weights adapter_model.safetensors"), "\(text.stdout)")
        #expect(text.stdout.contains("model.layers.0.mlp.down_proj     lora  32 x 64     4      8      2      1.715"), "\(text.stdout)")
        let json = try JSON.parse(loft("inspect", adapter, "--json").stdout)
        #expect(json["modules"]?.arrayValue?.count == 14)
        #expect(json["modules"]?.arrayValue?.first?["delta_norm"]?.doubleValue.map { abs($0 - 1.715) < 1e-3 } == true)
        let refused = loft("inspect", adapter, "--stats")
        #expect(refused.status == 64, "\(refused.stderr)")
    }

    /// diff on two adapters: a PEFT adapter and its MLX-LM conversion agree (exit 0); two
    /// different adapters differ (exit 1); an adapter against a model is an error (exit 2).
    @Test func diffComparesAdaptersModuleByModule() throws {
        let scratch = ScratchDirectory()
        let peft = Repository.path("fixtures/adapters/peft-llama-lora")
        #expect(loft("convert", peft, scratch.file("mlx"), "--to", "mlx").status == 0)
        let same = loft("diff", scratch.file("mlx"), peft)
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
        #expect(same.stdout.contains("14 module(s) compared, 0 differ, 0 missing, 0 extra, 0 mismatched"), "\(same.stdout)")
        let other = loft("diff", peft, Repository.path("fixtures/adapters/peft-llama-second"), "--json")
        #expect(other.status == 1)
        #expect(try JSON.parse(other.stdout)["agree"] == .bool(false))
        let model = loft("diff", peft, Repository.path("fixtures/adapters/llama-sharded"))
        #expect(model.status == 2 && model.stderr.contains("llama-sharded: not an adapter"), "\(model.stderr)")
    }
}
