// Training 2N steps equals training N, saving the state, restoring it into a fresh optimizer
// (and fresh parameters), and training N more: bit for bit.

import Foundation
import Compute
import Testing
import TensorIO
@testable import LoFT

@Suite struct ResumeTests {
    /// A pair and a bias on a quadratic problem; `step` runs one step of `optimizer` on them.
    final class Model {
        let pair: LowRankPair
        let bias: Matrix
        let problem: QuadraticProblem
        let biasTarget: Matrix

        /// The data (targets) come from `seed`, the starting parameters from `parameterSeed`.
        init(seed: UInt64, parameterSeed: UInt64? = nil) {
            var g = SeededGenerator(seed: seed)
            problem = QuadraticProblem(target: .normal(rows: 11, columns: 9, using: &g))
            biasTarget = .normal(rows: 1, columns: 11, using: &g)
            var p = SeededGenerator(seed: parameterSeed ?? seed)
            pair = LowRankPair(a: .normal(rows: 3, columns: 9, scale: 0.3, using: &p), b: .normal(rows: 11, columns: 3, scale: 0.3, using: &p))
            bias = .normal(rows: 1, columns: 11, using: &p)
        }

        func optimizer(_ method: LowRankMethod) throws -> Optimizer {
            let optimizer = Optimizer(method: method, hyperparameters: AdamWHyperparameters(eps: 1e-4, weightDecay: 0.01), maxGradientNorm: 2)
            try optimizer.register(pair: "layer", pair)
            try optimizer.register(dense: "bias", bias)
            return optimizer
        }

        func step(_ optimizer: Optimizer, index: Int) throws {
            let (gA, gB) = problem.factorGradients(pair)
            let gBias = bias.copy()
            gBias.add(biasTarget, scaledBy: -1)
            // A schedule, so the per-step learning rate is exercised too.
            try optimizer.step(gradients: ["layer": .pair(a: gA, b: gB), "bias": .dense(gBias)],
                               learningRate: 0.02 / Float(1 + index))
        }
    }

    static let methods: [LowRankMethod] = [.loft, .loraAdamW, .loft(.noAlternation), .loft(.noCalibration)]

    @Test(arguments: methods) func resumeIsBitForBit(method: LowRankMethod) throws {
        let n = 5
        let straight = Model(seed: 31)
        let straightOptimizer = try straight.optimizer(method)
        for k in 0..<(2 * n) { try straight.step(straightOptimizer, index: k) }

        let first = Model(seed: 31)
        let firstOptimizer = try first.optimizer(method)
        for k in 0..<n { try first.step(firstOptimizer, index: k) }
        let (metadata, tensors) = firstOptimizer.stateTensors()

        // A different starting point: everything must come from the saved state.
        let resumed = Model(seed: 31, parameterSeed: 99)
        let resumedOptimizer = try resumed.optimizer(method)
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.info.name, $0) })
        try resumedOptimizer.restoreState(metadata: metadata, tensor: { byName[$0] }, path: "memory")
        #expect(resumedOptimizer.stepCount == n)
        for k in n..<(2 * n) { try resumed.step(resumedOptimizer, index: k) }

        #expect(resumed.pair.a.elements == straight.pair.a.elements)
        #expect(resumed.pair.b.elements == straight.pair.b.elements)
        #expect(resumed.bias.elements == straight.bias.elements)
    }

    @Test func resumeThroughASafetensorsFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loft-resume-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let n = 4
        let straight = Model(seed: 41)
        let straightOptimizer = try straight.optimizer(.loft)
        for k in 0..<(2 * n) { try straight.step(straightOptimizer, index: k) }

        let first = Model(seed: 41)
        let firstOptimizer = try first.optimizer(.loft)
        for k in 0..<n { try first.step(firstOptimizer, index: k) }
        try firstOptimizer.saveState(to: path)

        let resumed = Model(seed: 41, parameterSeed: 7)
        let resumedOptimizer = try resumed.optimizer(.loft)
        try resumedOptimizer.loadState(from: path)
        for k in n..<(2 * n) { try resumed.step(resumedOptimizer, index: k) }
        #expect(resumed.pair.a.elements == straight.pair.a.elements)
        #expect(resumed.pair.b.elements == straight.pair.b.elements)
        #expect(resumed.bias.elements == straight.bias.elements)

        // The file lists what docs/loft.md says it holds.
        let reader = try SafetensorsReader(path: path)
        let shapes = Dictionary(uniqueKeysWithValues: reader.tensors.map { ($0.name, $0.shape) })
        #expect(shapes["state/layer.A.second_moment"] == [6, 9])   // r(r+1)/2 = 6 for r = 3
        #expect(shapes["state/layer.B.second_moment"] == [11, 6])
        #expect(shapes["state/layer.A.basis"] == [11, 3])
        #expect(shapes["state/layer.B.basis"] == [3, 9])
        #expect(shapes["state/layer.A.step"] == [])
        #expect(shapes["state/bias.exp_avg_sq"] == [1, 11])
        #expect(shapes["param/layer.A"] == [3, 9])
        #expect(reader.metadata.first { $0.key == "format" }?.value == "loft-optimizer-state")
    }

    /// The reference reader (Python safetensors) reads the state file: dtypes, shapes, metadata.
    @Test(.requiresPython("numpy", "safetensors")) func stateFileReadsInPythonSafetensors() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loft-state-py-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = Model(seed: 5)
        let optimizer = try model.optimizer(.loft)
        for k in 0..<3 { try model.step(optimizer, index: k) }
        try optimizer.saveState(to: path)
        let script = """
            import sys
            from safetensors import safe_open
            with safe_open(sys.argv[1], "np") as f:
                meta = f.metadata()
                a = f.get_tensor("state/layer.A.second_moment")
                step = f.get_tensor("state/layer.B.step")
                print(meta["format"], meta["step"], a.dtype, a.shape, step.dtype, step.shape, int(step))
            """
        let output = try Python.output(script, [path])
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "loft-optimizer-state 3 float32 (6, 9) int64 () 3")
    }

    @Test func restoreRejectsAnotherMethod() throws {
        let model = Model(seed: 1)
        let optimizer = try model.optimizer(.loft)
        try model.step(optimizer, index: 0)
        let (metadata, tensors) = optimizer.stateTensors()
        let other = try Model(seed: 1).optimizer(.loraAdamW)
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.info.name, $0) })
        #expect(throws: OptimizerError.self) {
            try other.restoreState(metadata: metadata, tensor: { byName[$0] }, path: "memory")
        }
    }
}

