// PyTorch checkpoints read without running their pickle (Sources/TensorIO/PyTorch), against
// torch itself: fixtures/pytorch/ was written by torch.save (fixtures/generators/pytorch.py),
// and expected/*.safetensors by torch.load(weights_only=True) + safetensors save_file. loft's
// conversion must equal those bytes; with torch installed the Python route also runs live.

import Foundation
import Testing
import TestSupport
@testable import TensorIO

@Suite struct PyTorchReaderTests {
    static func fixture(_ name: String) -> String { Repository.path("fixtures/pytorch/" + name) }

    static func convert(_ input: String, key: String? = nil, to output: String) throws {
        _ = try TensorConversion.run(reader: TensorFile.open(input, key: key), output: .safetensors(path: output), options: ConversionOptions())
    }

    static let converted: [(input: String, key: String?, expected: String)] = [
        ("dtypes.pt", nil, "dtypes"), ("dtypes-legacy.pt", nil, "dtypes-legacy"), ("views.pt", nil, "views"),
        ("views-legacy.pt", nil, "views-legacy"), ("bigendian.pt", nil, "bigendian"), ("nested.pt", "model", "nested"),
        ("lightning.ckpt", nil, "lightning"),
    ]

    @Test(arguments: converted.map(\.input))
    func convertEqualsTorchLoadPlusSaveFile(_ input: String) throws {
        let entry = Self.converted.first { $0.input == input }!
        let scratch = ScratchDirectory()
        try Self.convert(Self.fixture(input), key: entry.key, to: scratch.file("out.safetensors"))
        try Self.expectSame(scratch.file("out.safetensors"), Self.fixture("expected/\(entry.expected).safetensors"), input)
    }

    /// Byte for byte; where the metadata records tied tensors, Python writes its keys in hash
    /// order, so then the tensors (names, order, bytes) and the metadata as a dictionary.
    static func expectSame(_ ours: String, _ theirs: String, _ input: String) throws {
        let oursData = try Data(contentsOf: URL(fileURLWithPath: ours)), theirsData = try Data(contentsOf: URL(fileURLWithPath: theirs))
        let a = try SafetensorsReader(path: ours), b = try SafetensorsReader(path: theirs)
        guard !b.metadata.isEmpty else {
            #expect(oursData == theirsData, "\(input): loft's safetensors differs from torch.load + save_file")
            return
        }
        #expect(Dictionary(uniqueKeysWithValues: a.metadata.map { ($0.key, $0.value) }) == Dictionary(uniqueKeysWithValues: b.metadata.map { ($0.key, $0.value) }), "\(input)")
        #expect(a.tensors == b.tensors, "\(input)")
        for tensor in b.tensors where a.info(for: tensor.name) != nil {
            #expect(Array(try a.data(for: tensor.name).bytes) == Array(try b.data(for: tensor.name).bytes), "\(input): \(tensor.name)")
        }
        #expect(oursData.count == theirsData.count, "\(input)")
    }

    /// The committed expectations are today's torch: run the Python route again and compare.
    @Test(.requiresPython("torch", "safetensors"), arguments: ["views.pt", "dtypes.pt", "views-legacy.pt", "bigendian.pt"])
    func pythonRouteLive(_ input: String) throws {
        let scratch = ScratchDirectory()
        try Python.output("""
            import pathlib, sys
            sys.path.insert(0, sys.argv[3])
            from fixtures.generators.pytorch import expected
            expected(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
            """, [Self.fixture(input), scratch.file("python.safetensors"), Repository.path("")])
        try Self.convert(Self.fixture(input), to: scratch.file("loft.safetensors"))
        try Self.expectSame(scratch.file("loft.safetensors"), scratch.file("python.safetensors"), input)
    }

    @Test func formatsAndTensors() throws {
        let zip = try TensorFile.open(Self.fixture("views.pt"))
        let legacy = try TensorFile.open(Self.fixture("views-legacy.pt"))
        #expect(zip.format == "pytorch-zip" && legacy.format == "pytorch-legacy")
        #expect(zip.tensors == legacy.tensors)
        #expect(zip.tensors.first { $0.name == "weight_t" }?.shape == [5, 6])
        #expect(zip.tensors.first { $0.name == "scalar" }?.shape == [])
        // Tied weights: two names, one storage, the same bytes.
        let embed = try zip.data(for: "embed.weight"), head = try zip.data(for: "lm_head.weight")
        #expect(Array(embed.bytes) == Array(head.bytes))
        // A contiguous tensor is a view into the mapping, not a copy.
        #expect(embed.owner is MappedFile)
        #expect(try zip.data(for: "weight_t").owner is ByteBuffer)
        let expanded = try zip.data(for: "expanded").withElements(as: Float.self) { Array($0) }
        #expect(expanded == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
        let column = try zip.data(for: "column").withElements(as: Float.self) { Array($0) }
        #expect(column == [3, 11, 19, 27, 35])
    }

    @Test func stateDictPlacesAndNotes() throws {
        let nested = try TensorFile.open(Self.fixture("nested.pt"))
        #expect(nested.tensors.map(\.name) == ["encoder.layer.weight", "encoder.layer.bias", "decoder.weight", "steps"])
        #expect(nested.notes.first == "state dict under 'model'; also at the top level: epoch, optimizer, config (choose with --key)")

        let whole = try TensorFile.open(Self.fixture("nested.pt"), key: "optimizer")
        #expect(whole.tensors.map(\.name) == ["state.0.exp_avg"])
        #expect(whole.otherEntries.map(\.name) == ["param_groups"])
        #expect(whole.otherEntries.first?.value == "list (1 item)")

        let dotted = try TensorFile.open(Self.fixture("nested.pt"), key: "model.encoder")
        #expect(dotted.tensors.map(\.name) == ["layer.weight", "layer.bias"])

        #expect(throws: PyTorchError.badKey(path: Self.fixture("nested.pt"), key: "weights", reason: "no such entry; the top level holds epoch, model, optimizer, config")) {
            try TensorFile.open(Self.fixture("nested.pt"), key: "weights")
        }
        #expect(throws: PyTorchError.badKey(path: Self.fixture("nested.pt"), key: "epoch", reason: "it is a int 3, not a dict of tensors")) {
            try TensorFile.open(Self.fixture("nested.pt"), key: "epoch")
        }
        #expect(throws: FileError.self) { try TensorFile.open(Self.fixture("expected/views.safetensors"), key: "model") }
    }

    @Test func shardedBinEqualsSingleFile() throws {
        let single = try TensorFile.open(Self.fixture("gpt2"))
        let sharded = try TensorFile.open(Self.fixture("gpt2-sharded"))
        #expect(sharded.format == "pytorch-zip-sharded")
        #expect(Set(single.tensors) == Set(sharded.tensors))
        for info in single.tensors {
            #expect(Array(try single.data(for: info.name).bytes) == Array(try sharded.data(for: info.name).bytes), "\(info.name)")
        }
    }

    /// Every file in hostile/ is refused with its expected message; none is missing from the table.
    @Test func hostileFilesAreRefused() throws {
        let folder = Self.fixture("hostile")
        let table = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json"))) as! [String: String]
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0 != "expected.json" }.sorted()
        #expect(files.count >= 25)
        #expect(Set(files) == Set(table.keys))
        for file in files {
            let path = folder + "/" + file
            do {
                let reader = try TensorFile.open(path)
                Issue.record("\(file): opened, \(reader.tensors.count) tensors")
            } catch {
                let message = "\(error)"
                #expect(message.hasPrefix(path + ": "), "\(file): \(message)")
                #expect(message.contains(table[file]!), "\(file): \(message)")
                #expect(!message.contains("\n"), "\(file): \(message)")
            }
        }
    }

    @Test func pickleLimits() throws {
        // A stack and memo limit far below the default, reached by a short pickle.
        let bytes: [UInt8] = [0x80, 0x02] + Array(repeating: 0x4E, count: 40) + [0x2E]
        let error = bytes.withUnsafeBytes { buffer -> PickleError? in
            var limits = PickleLimits.standard
            limits.stack = 16
            do {
                _ = try PickleMachine(bytes: buffer, path: "p", limits: limits).run { _, _, _ in 0 }
                return nil
            } catch { return error as? PickleError }
        }
        #expect(error == .limitExceeded(path: "p", offset: 18, what: "stack depth", limit: 16))
    }

    @Test func allowListNamesNothingThatRuns() {
        for (module, name) in [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"),
                               ("__builtin__", "eval"), ("subprocess", "Popen"), ("sys", "modules"), ("nt", "system"),
                               ("torch", "load"), ("torch.serialization", "load"), ("numpy", "load"), ("torch._utils", "_rebuild_qtensor")] {
            #expect(PickleAllowList.resolve(module: module, name: name) == nil, "\(module).\(name)")
        }
    }
}
