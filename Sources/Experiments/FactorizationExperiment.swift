// The LoFT paper's synthetic experiment: fit B A (m x r times r x n) to a rank-k target
// T = randn(m, k) randn(k, n), loss = mean squared error over all entries, with LoFT,
// LoRA-AdamW, two LoFT ablations, and full AdamW on W (started at W = B0 A0).
//
// Gradients: E = B A - T, G = dL/dW = 2 E / (m n), gA = Bᵀ G, gB = G Aᵀ.

import Compute
import LoFT
import TensorIO

public struct FactorizationExperiment: Sendable {
    public enum Method: String, CaseIterable, Sendable {
        case loft
        case lora
        case loftNoAlternate = "loft-no-alternate"
        case loftNoCalibration = "loft-no-calibration"
        case adamwFull = "adamw-full"
    }

    public var m = 1024
    public var n = 512
    public var rank = 8
    public var targetRank = 8
    public var steps = 300
    public var learningRate: Float = 10
    public var hyperparameters = AdamWHyperparameters(beta1: 0.9, beta2: 0.999, eps: 1e-4)
    public var seed: UInt64 = 0

    public init() {}

    /// The target and the initial factors, the same for every method.
    public func problem() -> (target: Matrix, a: Matrix, b: Matrix) {
        var generator = SeededGenerator(seed: seed)
        let left = Matrix.normal(rows: m, columns: targetRank, using: &generator)
        let right = Matrix.normal(rows: targetRank, columns: n, using: &generator)
        let target = Matrix.product(left, right)
        // Linear-layer init: uniform with bound 1/sqrt(fan_in); A's fan-in is n, B's is r.
        let a = Matrix.uniform(rows: rank, columns: n, bound: 1 / Float(n).squareRoot(), using: &generator)
        let b = Matrix.uniform(rows: m, columns: rank, bound: 1 / Float(rank).squareRoot(), using: &generator)
        return (target, a, b)
    }

    /// The loss mean((B A - T)²) and its factor gradients, for checks.
    public static func lossAndGradients(pair: LowRankPair, target: Matrix) -> (loss: Double, a: Matrix, b: Matrix) {
        let residual = pair.product()
        residual.add(target, scaledBy: -1)
        let count = residual.count
        let (gA, gB) = LowRankGradients.fromFullGradient(residual, pair: pair, scale: 2 / Float(count))
        return (residual.squaredNorm() / Double(count), gA, gB)
    }

    /// Bytes the largest run (full AdamW: target, residual, W, its gradient and two moments,
    /// all m x n float32) allocates, estimated before anything is allocated.
    public var estimatedBytes: Double { 6 * 4 * Double(m) * Double(n) + 4 * 4 * Double(m + n) * Double(rank) * Double(rank + 3) }

    /// Writes the target and the initial factors to a safetensors file (tensors `target`
    /// m x n, `a0` r x n, `b0` m x r, float32), for scripts/loft_reference.py.
    public func saveProblem(to path: String) throws {
        let (target, a0, b0) = problem()
        func tensor(_ name: String, _ matrix: Matrix) -> TensorData {
            let info = TensorInfo(name: name, dtype: .F32, shape: matrix.shape)
            let buffer = ByteBuffer(count: info.byteCount)
            if info.byteCount > 0 { buffer.bytes.baseAddress!.copyMemory(from: matrix.baseAddress, byteCount: info.byteCount) }
            return TensorData(info: info, buffer: buffer)
        }
        try SafetensorsWriter.write(to: path, tensors: [tensor("target", target), tensor("a0", a0), tensor("b0", b0)],
                                    metadata: [("seed", String(seed))])
    }

    /// Loss before the first step and after each step: `steps + 1` values.
    public func run(_ method: Method) throws -> [Double] { try runCountingEvents(method).losses }

    /// The losses and the number of optimizer events (OptimizerEvent: regularised solves,
    /// skipped steps) over the run.
    public func runCountingEvents(_ method: Method) throws -> (losses: [Double], events: Int) {
        let (target, a0, b0) = problem()
        let residual = Matrix(rows: m, columns: n)
        var losses: [Double] = []
        losses.reserveCapacity(steps + 1)
        let gradientScale = 2 / Float(m * n)

        /// residual <- W - T, returns the loss.
        func lossAndResidual(_ w: (Matrix) -> Void) -> Double {
            w(residual)
            residual.add(target, scaledBy: -1)
            return residual.squaredNorm() / Double(m * n)
        }

        if method == .adamwFull {
            let w = Matrix.product(b0, a0)
            let optimizer = Optimizer(method: .loraAdamW, hyperparameters: hyperparameters)
            try optimizer.register(dense: "W", w)
            let gradient = Matrix(rows: m, columns: n)
            for _ in 0..<steps {
                losses.append(lossAndResidual { $0.assign(w) })
                gradient.assign(residual)
                gradient.scale(by: gradientScale)
                try optimizer.step(gradients: ["W": .dense(gradient)], learningRate: learningRate)
            }
            losses.append(lossAndResidual { $0.assign(w) })
            return (losses, optimizer.eventCount)
        }

        let pair = LowRankPair(a: a0.copy(), b: b0.copy())
        let lowRank: LowRankMethod
        switch method {
        case .loft: lowRank = .loft(.full)
        case .lora: lowRank = .loraAdamW
        case .loftNoAlternate: lowRank = .loft(.noAlternation)
        case .loftNoCalibration: lowRank = .loft(.noCalibration)
        case .adamwFull: fatalError("handled above")
        }
        let optimizer = Optimizer(method: lowRank, hyperparameters: hyperparameters)
        try optimizer.register(pair: "BA", pair)
        for _ in 0..<steps {
            losses.append(lossAndResidual { Matrix.multiply(pair.b, pair.a, into: $0) })
            // G = 2 E / (m n); gA = Bᵀ G, gB = G Aᵀ.
            let (gA, gB) = LowRankGradients.fromFullGradient(residual, pair: pair, scale: gradientScale)
            try optimizer.step(gradients: ["BA": .pair(a: gA, b: gB)], learningRate: learningRate)
        }
        losses.append(lossAndResidual { Matrix.multiply(pair.b, pair.a, into: $0) })
        return (losses, optimizer.eventCount)
    }
}
