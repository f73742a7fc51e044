// The bridge between the model's buffers (Models: FloatBuffer) and the optimizer's
// parameters (LoFT: Matrix). Each trained tensor has a Matrix mirror the optimizer owns;
// gradients are copied in before a step and the new values copied back after it. The
// copies cost O(trained parameters) per step, small next to forward and backward.

import LinearAlgebra
import LoFT
import Models

final class OptimizerBinding {
    let optimizer: Optimizer
    private var pairs: [(adapter: LowRankAdapter, pair: LowRankPair, gradientA: Matrix, gradientB: Matrix)] = []
    private var dense: [(parameter: Parameter, value: Matrix, gradient: Matrix)] = []

    init(optimizer: Optimizer, adapters: [LowRankAdapter], parameters: [Parameter]) throws {
        self.optimizer = optimizer
        for adapter in adapters {
            let pair = LowRankPair(a: matrix(adapter.a, rows: adapter.rank, columns: adapter.inFeatures),
                                   b: matrix(adapter.b, rows: adapter.outFeatures, columns: adapter.rank))
            try optimizer.register(pair: adapter.name, pair)
            pairs.append((adapter, pair, Matrix(rows: adapter.rank, columns: adapter.inFeatures),
                          Matrix(rows: adapter.outFeatures, columns: adapter.rank)))
        }
        for parameter in parameters {
            let (rows, columns) = parameter.shape.count == 2 ? (parameter.shape[0], parameter.shape[1]) : (1, parameter.count)
            let value = matrix(parameter.value, rows: rows, columns: columns)
            try optimizer.register(dense: parameter.name, value)
            dense.append((parameter, value, Matrix(rows: rows, columns: columns)))
        }
    }

    func step(learningRate: Float) throws -> OptimizerStepReport {
        var gradients: [String: Gradient] = [:]
        for entry in pairs {
            copy(entry.adapter.gradientA, into: entry.gradientA)
            copy(entry.adapter.gradientB, into: entry.gradientB)
            gradients[entry.adapter.name] = .pair(a: entry.gradientA, b: entry.gradientB)
        }
        for entry in dense {
            copy(entry.parameter.gradient!, into: entry.gradient)
            gradients[entry.parameter.name] = .dense(entry.gradient)
        }
        let report = try optimizer.step(gradients: gradients, learningRate: learningRate)
        pullValues()
        return report
    }

    /// Copies the optimizer's parameter values into the model (after a step or a state load).
    func pullValues() {
        for entry in pairs {
            entry.adapter.a.pointer.update(from: entry.pair.a.baseAddress, count: entry.adapter.a.count)
            entry.adapter.b.pointer.update(from: entry.pair.b.baseAddress, count: entry.adapter.b.count)
        }
        for entry in dense {
            entry.parameter.value.pointer.update(from: entry.value.baseAddress, count: entry.parameter.count)
        }
    }
}

private func matrix(_ buffer: FloatBuffer, rows: Int, columns: Int) -> Matrix {
    let result = Matrix(rows: rows, columns: columns)
    result.baseAddress.update(from: buffer.pointer, count: buffer.count)
    return result
}

private func copy(_ buffer: FloatBuffer, into matrix: Matrix) {
    matrix.baseAddress.update(from: buffer.pointer, count: buffer.count)
}
