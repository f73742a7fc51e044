// ModelSource on every layout a model comes in (one file, a file with config.json beside
// it, a directory, a sharded index, a directory without weights), and the format sniffing
// on files made by the libraries that write them (fixtures/formats/, generators/formats.py).

import Foundation
import Testing
@testable import TensorIO

enum SourceFixtures {
    static let repo: URL = SafetensorsFixtures.root.deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { repo.appendingPathComponent(relative).path }
    static func format(_ name: String) -> String { path("fixtures/formats/" + name) }

    /// The message of what `body` throws ("" when it does not throw).
    static func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return ""
    }
}

@Suite struct ModelSourceLayoutTests {
    @Test func singleFileWithoutConfig() throws {
        let path = SourceFixtures.path("fixtures/cli/small.safetensors")
        let source = try ModelSource.open(path)
        #expect(source.reader.format == "safetensors" && source.reader.tensors.count == 8)
        #expect(source.directory == nil && !source.ownsDirectory)
        #expect(source.config == nil && source.configPath == nil && source.modelType == nil)
        #expect(source.expectedConfigPath == SourceFixtures.path("fixtures/cli/config.json"))
        #expect(source.notes.isEmpty)
    }

    @Test func fileWithConfigBeside() throws {
        let directory = SourceFixtures.path("fixtures/models/gpt2-tiny")
        let source = try ModelSource.open(directory + "/model.safetensors")
        #expect(source.directory == directory && !source.ownsDirectory)
        #expect(source.configPath == directory + "/config.json" && source.modelType == "gpt2")
    }

    @Test func modelDirectoryWithTokenizer() throws {
        let directory = SourceFixtures.path("demo/model")
        let source = try ModelSource.open(directory)
        #expect(source.reader.path == directory + "/model.safetensors")
        #expect(source.directory == directory && source.ownsDirectory)
        #expect(source.modelType == "gpt2" && source.tokenizerPath == directory)
    }

    @Test func shardedIndexAndItsDirectory() throws {
        let directory = SourceFixtures.path("fixtures/cli/sharded")
        for path in [directory, directory + "/model.safetensors.index.json"] {
            let source = try ModelSource.open(path)
            #expect(source.reader.format == "safetensors-sharded", "\(path)")
            #expect((source.reader as? ShardedTensorReader)?.shards.count == 2)
            #expect(source.directory == directory && source.ownsDirectory, "\(path)")
            #expect(source.config == nil && source.tokenizerPath == nil)
        }
    }

    @Test func npyAndNpzAreSourcesToo() throws {
        #expect(try ModelSource.open(SourceFixtures.path("fixtures/cli/wte.npy")).reader.format == "npy")
        #expect(try ModelSource.open(SourceFixtures.path("fixtures/cli/small.npz")).reader.format == "npz")
    }

    // Regression (issue 10, defect 12): "invalid sharded checkpoint index".
    @Test func directoryWithoutWeightsSaysWhatItHolds() throws {
        let message = SourceFixtures.message { _ = try ModelSource.open(SourceFixtures.format("no-weights")) }
        #expect(message.hasSuffix("no-weights: no weights: holds only config.json, tokenizer.json"), "\(message)")
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        #expect(SourceFixtures.message { _ = try ModelSource.open(scratch.path) }.hasSuffix("no weights: the directory is empty"))
    }

    @Test func directoryWithStrayShardNamesTheLayouts() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try FileManager.default.copyItem(atPath: SourceFixtures.path("fixtures/cli/small.safetensors"), toPath: scratch.file("weights.safetensors"))
        let message = SourceFixtures.message { _ = try ModelSource.open(scratch.path) }
        #expect(message.contains("model.safetensors.index.json") && message.contains("pytorch_model.bin"), "\(message)")
        #expect(message.contains("holds weights.safetensors"), "\(message)")
    }

    // Regression (issue 13 part): a garbage config.json named no file.
    @Test func garbageConfigNamesTheFile() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try FileManager.default.copyItem(atPath: SourceFixtures.path("fixtures/cli/small.safetensors"), toPath: scratch.file("model.safetensors"))
        try "{\"model_type\": gpt2".write(toFile: scratch.file("config.json"), atomically: false, encoding: .utf8)
        let message = SourceFixtures.message { _ = try ModelSource.open(scratch.path) }
        #expect(message.hasPrefix(scratch.file("config.json") + ": invalid JSON"), "\(message)")
        try "".write(toFile: scratch.file("config.json"), atomically: false, encoding: .utf8)
        #expect(SourceFixtures.message { _ = try ModelSource.open(scratch.path) } == scratch.file("config.json") + ": invalid JSON: empty file")
    }
}

@Suite struct FormatSniffingTests {
    // Regression (issue 10, defect 12): `inspect pytorch_model.bin` said "not an .npy array",
    // `eval` reported a header length of 578712552184433488.
    @Test(arguments: [
        ("plain.pickle.bin", "a Python pickle"),
        ("keras.h5", "an HDF5 file"),
        ("plain.zip", "a zip archive that is not an .npz"),
    ])
    func recognisedFormatsSayWhatTheFileIs(file: String, what: String) throws {
        let path = SourceFixtures.format(file)
        let message = SourceFixtures.message { _ = try ModelSource.open(path) }
        #expect(message.hasPrefix(path + ": " + what), "\(message)")
        #expect(message.hasSuffix("loft cannot read this format yet"), "\(message)")
    }

    // Issue 11: both PyTorch containers open (Sources/TensorIO/PyTorch).
    @Test(arguments: [("pytorch_model.bin", "pytorch-zip"), ("legacy.pt", "pytorch-legacy")])
    func pyTorchCheckpointsOpen(file: String, format: String) throws {
        let reader = try ModelSource.open(SourceFixtures.format(file)).reader
        #expect(reader.format == format)
        #expect(reader.tensors == [TensorInfo(name: "w", dtype: .F32, shape: [2, 3])])
    }

    @Test func theBytesDecideWhateverTheName() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        // No extension, and the extension of another unreadable format: the bytes say.
        for name in ["checkpoint", "weights.h5", "model.safetensors"] {
            try? FileManager.default.removeItem(atPath: scratch.file(name))
            try FileManager.default.copyItem(atPath: SourceFixtures.format("plain.pickle.bin"), toPath: scratch.file(name))
            let message = SourceFixtures.message { _ = try ModelSource.open(scratch.file(name)) }
            #expect(message.contains("a Python pickle (protocol 2, as legacy PyTorch checkpoints are); loft cannot read this format yet"), "\(name): \(message)")
        }
        // A PyTorch checkpoint without a PyTorch extension opens from its bytes.
        try FileManager.default.copyItem(atPath: SourceFixtures.format("pytorch_model.bin"), toPath: scratch.file("checkpoint.h5"))
        #expect(try ModelSource.open(scratch.file("checkpoint.h5")).reader.format == "pytorch-zip")
        // A readable file under an unreadable format's name opens.
        try FileManager.default.copyItem(atPath: SourceFixtures.path("fixtures/cli/small.safetensors"), toPath: scratch.file("model.bin"))
        #expect(try ModelSource.open(scratch.file("model.bin")).reader.format == "safetensors")
    }

    @Test func aPyTorchIndexPlugsIntoTheShardedLayout() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        try FileManager.default.copyItem(atPath: SourceFixtures.format("pytorch_model.bin"), toPath: scratch.file("pytorch_model-00001-of-00001.bin"))
        try #"{"metadata": {}, "weight_map": {"w": "pytorch_model-00001-of-00001.bin"}}"#
            .write(toFile: scratch.file("pytorch_model.bin.index.json"), atomically: false, encoding: .utf8)
        // Found through TensorFile.layouts; the shard goes through the format table.
        let reader = try ModelSource.open(scratch.path).reader
        #expect(reader.format == "pytorch-zip-sharded")
        #expect(reader.tensors.map(\.name) == ["w"])
        // A safetensors checkpoint beside it wins, as in transformers.
        try FileManager.default.copyItem(atPath: SourceFixtures.path("fixtures/cli/small.safetensors"), toPath: scratch.file("model.safetensors"))
        #expect(try ModelSource.open(scratch.path).reader.format == "safetensors")
    }

    @Test func everyEntryOfTheTableIsDistinct() {
        #expect(Set(TensorFile.formats.map(\.name)).count == TensorFile.formats.count)
        #expect(TensorFile.formats.filter(\.isReadable).map(\.name) == ["safetensors", "npy", "pytorch-zip", "npz", "pytorch-legacy", "gguf", "index"])
    }
}
