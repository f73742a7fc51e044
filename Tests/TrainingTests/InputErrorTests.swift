// Every bad input is refused while the job is built, before any training step: the output
// directory stays empty.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct InputErrorTests {
    func request(_ directory: String, data: String = TrainingFixtures.path("tokens.npy")) -> FinetuneRequest {
        var request = FinetuneRequest(base: TrainingFixtures.path("gpt2"), data: data, output: directory + "/out")
        request.batch = 2
        request.sequence = 16
        request.options.steps = 2
        return request
    }

    /// Builds the job, expects `check` to accept the error, and that nothing was written.
    func expectRefused(_ configure: (inout FinetuneRequest, String) throws -> Void, _ check: (Error) -> Bool) throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var r = request(directory)
        try configure(&r, directory)
        do {
            _ = try FinetuneJob(r)
            Issue.record("expected an error")
        } catch {
            #expect(check(error), "unexpected error: \(error)")
            #expect(!String(describing: error).isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/out"))
    }

    @Test func rankAboveTheModuleWidthIsRefused() throws {
        // The fixture GPT-2 is 32 channels wide: c_attn is 32 in, 96 out.
        try expectRefused({ r, _ in r.options.rank = 33 }) { error in
            guard case let TrainingError.rankTooLarge(33, module, 32, 96) = error else { return false }
            return module.hasSuffix("c_attn") && String(describing: error).contains("at most 32")
        }
    }

    @Test func unknownTargetListsModules() throws {
        try expectRefused({ r, _ in r.options.targets = ["q_proj"] }) { error in
            guard case let ModelError.unknownTarget(target, modules) = error else { return false }
            return target == "q_proj" && modules.contains("transformer.h.0.attn.c_attn")
                && String(describing: error).contains("transformer.h.0.attn.c_attn")
        }
    }

    @Test func unknownDenseTargetForAdamW() throws {
        try expectRefused({ r, _ in r.options.method = .adamw; r.options.targets = ["nonexistent"] }) { error in
            if case ModelError.unknownTarget("nonexistent", _) = error { return true }
            return false
        }
    }

    @Test func tooShortForOneWindow() throws {
        try expectRefused({ r, directory in
            r.data = directory + "/short.npy"
            try NpyWriter.write(to: r.data, tensor: int32Tensor((0..<16).map(Int32.init)))
        }) { error in
            if case TrainingError.tooShort(_, 16, 17, _) = error { return true }
            return false
        }
    }

    @Test func sequenceLongerThanTheContext() throws {
        try expectRefused({ r, _ in r.sequence = 65 }) { error in
            if case TrainingError.sequenceTooLong(65, 64) = error { return true }
            return false
        }
    }

    @Test func wrongTokenDType() throws {
        try expectRefused({ r, _ in r.data = TrainingFixtures.path("tokens-f32.npy") }) { error in
            if case TrainingError.wrongTokenDType(_, "F32") = error { return true }
            return false
        }
    }

    @Test func idsOutsideTheVocabulary() throws {
        try expectRefused({ r, _ in r.data = TrainingFixtures.path("tokens-u16.npy") }) { error in
            if case TrainingError.tokenOutOfVocabulary(_, 7, 65535, 2001) = error { return true }
            return false
        }
    }

    @Test func evalDataOutsideTheVocabulary() throws {
        try expectRefused({ r, _ in r.evalData = TrainingFixtures.path("tokens-u16.npy") }) { error in
            if case TrainingError.tokenOutOfVocabulary = error { return true }
            return false
        }
    }

    @Test func evalDataAndFractionTogether() throws {
        try expectRefused({ r, _ in r.evalData = TrainingFixtures.path("tokens.npy"); r.evalFraction = 0.1 }) { error in
            if case TrainingError.conflictingSettings(.evalData, .evalFraction) = error { return true }
            return false
        }
    }

    @Test func badHyperparameters() throws {
        try expectRefused({ r, _ in r.options.rank = 0 }) { ($0 as? TrainingError) != nil || ($0 as? ModelError) != nil }
        try expectRefused({ r, _ in r.options.learningRate = -1 }) { ($0 as? TrainingError) != nil }
        try expectRefused({ r, _ in r.options.clip = 0 }) { ($0 as? TrainingError) != nil }
    }

    @Test func resumeWithoutACheckpoint() throws {
        try expectRefused({ r, directory in r.resume = directory + "/nothing" }) { error in
            if case TrainingError.invalidCheckpoint = error { return true }
            return false
        }
    }

    @Test func mlpDataOfTheWrongWidth() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = try writeMLP(in: directory, x: floatTensor("x", [Float](repeating: 0, count: 20), shape: [5, 4]),
                                y: floatTensor("y", [Float](repeating: 0, count: 10), shape: [5, 2]))
        var request = FinetuneRequest(base: directory + "/mlp", data: data, output: directory + "/out")
        request.options.steps = 1
        #expect(throws: TrainingError.arrayShape(path: data, name: "x", expected: "[rows, 3] (the model's input width)", found: [5, 4])) {
            try FinetuneJob(request)
        }
    }

    @Test func mlpClassLabelsOutOfRange() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = try writeMLP(in: directory, x: floatTensor("x", [Float](repeating: 0, count: 6), shape: [2, 3]), y: int32Tensor([0, 2], name: "y"))
        var request = FinetuneRequest(base: directory + "/mlp", data: data, output: directory + "/out")
        request.options.steps = 1
        #expect(throws: TrainingError.tokenOutOfVocabulary(path: data, index: 1, id: 2, vocabularySize: 2)) { try FinetuneJob(request) }
    }
}

/// A random 3 -> 4 -> 2 MLP in DIR/mlp and `x`, `y` in DIR/data.npz; returns the data's path.
func writeMLP(in directory: String, x: TensorData, y: TensorData) throws -> String {
    let model = try MLPModel(randomlyInitialized: [3, 4, 2], activation: .relu, seed: 0)
    try FullCheckpoint.write(model, directory: directory + "/mlp")
    let data = directory + "/data.npz"
    try NpzWriter.write(to: data, tensors: [x.info, y.info], compress: false) { info in info.name == "x" ? x : y }
    return data
}

func int32Tensor(_ values: [Int32], name: String = "tokens") -> TensorData {
    let buffer = ByteBuffer(count: values.count * 4)
    values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
    return TensorData(info: TensorInfo(name: name, dtype: .I32, shape: [values.count]), buffer: buffer)
}

func floatTensor(_ name: String, _ values: [Float], shape: [Int]) -> TensorData {
    let buffer = ByteBuffer(count: values.count * 4)
    values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
    return TensorData(info: TensorInfo(name: name, dtype: .F32, shape: shape), buffer: buffer)
}
