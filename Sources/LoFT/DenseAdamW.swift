// AdamW on one dense tensor: the elementwise kernel, split over both cores.

import Compute
import TensorIO

import Glibc

/// Adam's state for one dense tensor (a dense parameter, or one LoRA factor).
final class DenseAdamWState {
    var step = 0
    let firstMoment: Matrix
    let secondMoment: Matrix

    init(rows: Int, columns: Int) {
        firstMoment = Matrix(rows: rows, columns: columns)
        secondMoment = Matrix(rows: rows, columns: columns)
    }

    /// One AdamW step of `parameter` with `gradient` multiplied by `gradientScale` (the
    /// clipping coefficient).
    func apply(to parameter: Matrix, gradient: Matrix, gradientScale: Float,
               learningRate: Float, hyperparameters h: AdamWHyperparameters) {
        step += 1
        let c1 = 1 - pow(Double(h.beta1), Double(step))
        let c2 = 1 - pow(Double(h.beta2), Double(step))
        let stepSize = Float(Double(learningRate) / c1)
        let inverseRootC2 = Float(1 / c2.squareRoot())
        let decay = 1 - learningRate * h.weightDecay
        let (b1, b2, eps) = (h.beta1, h.beta2, h.eps)
        let p = parameter.storage, g = gradient.storage
        let m = firstMoment.storage, v = secondMoment.storage
        Parallel.forEachRange(count: parameter.count, minimumChunk: 1 << 15) { range in
            for k in range {
                let grad = g[k] * gradientScale
                let mk = b1 * m[k] + (1 - b1) * grad
                let vk = b2 * v[k] + (1 - b2) * grad * grad
                m[k] = mk
                v[k] = vk
                let denominator = vk.squareRoot() * inverseRootC2 + eps
                p[k] = p[k] * decay - stepSize * (mk / denominator)
            }
        }
    }
}
