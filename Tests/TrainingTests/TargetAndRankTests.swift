// --targets is used as given (a name the model does not have is refused, naming it and the
// valid module names, never replaced by the family's default), and --rank and the run's
// memory are checked before anything of that size is allocated.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct TargetAndRankTests {
    /// The FinetuneJob error for `configure`d request; Issue when the job builds.
    func refusal(_ base: String, data: String? = nil, _ configure: (inout FinetuneRequest) -> Void) throws -> Error? {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var request = FinetuneRequest(base: base, data: try data ?? LlamaFixtures.tokenFile(in: directory), output: directory + "/out")
        request.batch = 2
        request.sequence = 16
        request.options.steps = 2
        configure(&request)
        do {
            _ = try FinetuneJob(request)
        } catch {
            #expect(!FileManager.default.fileExists(atPath: directory + "/out"))
            return error
        }
        Issue.record("expected the job to be refused")
        return nil
    }

    @Test func gpt2TargetsOnLlamaAreRefusedNotReplaced() throws {
        // Equal to GPT-2's default, which used to be taken for "no --targets given".
        let error = try refusal(LlamaFixtures.gqa) { $0.options.targets = ["c_attn", "c_proj"] }
        guard case let ModelError.unknownTarget(target, _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(target == "c_attn")
        let message = String(describing: error!)
        for name in ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] { #expect(message.contains(name), "\(message)") }
    }

    @Test func llamaTargetsOnGpt2AreRefused() throws {
        let error = try refusal(TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy")) { $0.options.targets = ["q_proj", "v_proj"] }
        guard case ModelError.unknownTarget("q_proj", _)? = error else { Issue.record("got \(String(describing: error))"); return }
        let message = String(describing: error!)
        for name in ["c_attn", "c_proj", "c_fc"] { #expect(message.contains(name), "\(message)") }
    }

    @Test func unknownMlpTargetIsRefused() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = try writeMLP(in: directory, x: floatTensor("x", [Float](repeating: 0, count: 15), shape: [5, 3]),
                                y: floatTensor("y", [Float](repeating: 0, count: 10), shape: [5, 2]))
        let error = try refusal(directory + "/mlp", data: data) { $0.options.targets = ["c_attn"]; $0.options.rank = 1 }
        guard case ModelError.unknownTarget("c_attn", _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(String(describing: error!).contains("layers.0"))
    }

    @Test func noTargetsTakesTheFamilyDefault() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var request = FinetuneRequest(base: TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy"), output: directory + "/out")
        request.options.steps = 1
        #expect(try FinetuneJob(request).options.targets == ["c_attn", "c_proj"])
    }

    @Test func rankAboveAModuleIsRefusedBeforeAnyAdapterExists() throws {
        // fixtures/training/gpt2 is 32 wide: --rank 100000 would be 100000 x 128 floats a module.
        let model = try GPT2Model.load(path: TrainingFixtures.path("gpt2"))
        #expect(throws: ModelError.rankTooLarge(rank: 100_000, module: "transformer.h.0.attn.c_attn", inFeatures: 32, outFeatures: 96)) {
            try model.checkAdapterRank(100_000, targets: ["c_attn", "c_proj"])
        }
        try model.checkAdapterRank(32, targets: ["c_attn", "c_proj"])
        let error = try refusal(TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy")) { $0.options.rank = 100_000 }
        guard case TrainingError.rankTooLarge(rank: 100_000, module: _, inFeatures: _, outFeatures: _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect("\(error!)".contains("at most 32"), "\(error!)")
    }

    @Test func aRunLargerThanTheMemoryIsRefusedBeforeAllocating() throws {
        // 2^22 x 16 tokens a step: about 10^11 floats of activations on this 32-wide model.
        let error = try refusal(TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy")) { $0.batch = 1 << 22 }
        guard case TrainingError.memoryExceeded? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect("\(error!)".contains("GB"), "\(error!)")
    }

    @Test func memoryEstimateCountsAdaptersAndActivations() throws {
        let model = try GPT2Model.load(path: TrainingFixtures.path("gpt2"))
        var options = TrainingOptions()
        options.rank = 4
        let small = try MemoryEstimate.trainingBytes(model: model, options: options, rows: 32, vocabulary: 2001)
        options.rank = 8
        let larger = try MemoryEstimate.trainingBytes(model: model, options: options, rows: 64, vocabulary: 2001)
        #expect(small > 0 && larger > small)
    }
}
