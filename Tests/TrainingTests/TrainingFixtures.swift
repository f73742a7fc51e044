// Paths of the committed fixtures (fixtures/training/, made by fixtures/generators/training.py),
// temporary directories, and a tiny GPT-2 / MLP with learnable data for the loop tests.

import Compute
import Foundation
@_exported import TestSupport
import TensorIO
@testable import Models
@testable import Training

enum TrainingFixtures {
    static let root = Repository.root

    static func path(_ relative: String) -> String { root.appendingPathComponent("fixtures/training/" + relative).path }

    static func json(_ relative: String) throws -> JSONValue {
        try JSON.parse(String(contentsOfFile: path(relative), encoding: .utf8))
    }

    /// A fresh empty directory, removed by the caller's defer.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loft-training-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static let tinyConfig = GPT2Config(vocabularySize: 24, positions: 16, channels: 16, heads: 2, layers: 1)

    /// A token stream a small model can learn: a fixed cycle of 12 ids with a little noise.
    static func cyclicTokens(count: Int, seed: UInt64 = 7) -> [Int32] {
        var random = SeededGenerator(seed: seed)
        let cycle: [Int32] = [3, 17, 5, 9, 1, 22, 14, 8, 0, 11, 19, 6]
        return (0..<count).map { i in random.next() % 10 == 0 ? Int32(random.next() % 24) : cycle[i % cycle.count] }
    }

    static func tinyTask(seed: UInt64 = 1, evalTokens: Bool = true) throws -> LanguageModelTask {
        let model = try GPT2Model(randomlyInitialized: tinyConfig, seed: 11)
        // A frozen tied head of std 0.02 caps the logits near 0, so adapters alone could not
        // lower the loss much; std 0.5 gives them room.
        for i in 0..<model.tokenEmbedding.count { model.tokenEmbedding.value[i] *= 25 }
        let tokens = cyclicTokens(count: 600)
        return try LanguageModelTask(model: model, trainTokens: Array(tokens[0..<500]),
                                     evalTokens: evalTokens ? Array(tokens[500...]) : nil, batch: 4, sequence: 8, seed: seed)
    }

    static func options(_ method: TrainingMethod, steps: Int, lr: Float) -> TrainingOptions {
        var options = TrainingOptions()
        options.method = method
        options.rank = 4
        options.steps = steps
        options.learningRate = lr
        options.warmupSteps = 2
        options.evalInterval = 5
        options.targets = method == .adamw ? ["all"] : ["c_attn", "c_proj", "c_fc"]
        return options
    }

    /// Every adapter factor (or trainable weight) as raw bits, in model order.
    static func trainedBits(_ model: TrainableModel) -> [UInt32] {
        var bits: [UInt32] = []
        for adapter in model.lowRankAdapters { bits += adapter.a.array.map(\.bitPattern) + adapter.b.array.map(\.bitPattern) }
        for parameter in model.trainableParameters { bits += parameter.value.array.map(\.bitPattern) }
        return bits
    }
}
