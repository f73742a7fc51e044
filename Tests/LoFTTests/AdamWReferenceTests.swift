// Dense AdamW (and global-norm clipping of dense gradients) against torch.optim.AdamW and
// torch.nn.utils.clip_grad_norm_ (fixtures/loft/adamw.json, from fixtures/generators/loft.py).

import Foundation
import Compute
import Testing
import TensorIO
@testable import LoFT

@Suite struct AdamWReferenceTests {
    static let fixture: JSONValue = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try! String(contentsOf: root.appendingPathComponent("fixtures/loft/adamw.json"), encoding: .utf8)
        return try! JSON.parse(text)
    }()

    func floats(_ value: JSONValue?) -> [Float] { value!.arrayValue!.map { Float($0.doubleValue!) } }

    func matrix(_ value: JSONValue?, shape: [Int]) -> Matrix {
        Matrix(rows: shape[0], columns: shape[1], elements: floats(value))
    }

    @Test(arguments: [0, 1]) func matchesTorch(run index: Int) throws {
        let f = Self.fixture
        let betas = floats(f["betas"])
        let h = AdamWHyperparameters(beta1: betas[0], beta2: betas[1], eps: Float(f["eps"]!.doubleValue!),
                                     weightDecay: Float(f["weight_decay"]!.doubleValue!))
        let run = f["runs"]!.arrayValue![index]
        let maxNorm = run["max_norm"]!.doubleValue.map(Float.init)
        let shapes = run["shapes"]!.arrayValue!.map { $0.arrayValue!.map { $0.intValue! } }
        let initial = run["initial"]!.arrayValue!
        let parameters = (0..<2).map { matrix(initial[$0], shape: shapes[$0]) }
        let optimizer = Optimizer(method: .loraAdamW, hyperparameters: h, maxGradientNorm: maxNorm)
        for (k, p) in parameters.enumerated() { try optimizer.register(dense: "p\(k)", p) }

        var worst: Float = 0
        for (step, gradients) in run["gradients"]!.arrayValue!.enumerated() {
            let g = gradients.arrayValue!
            try optimizer.step(gradients: ["p0": .dense(matrix(g[0], shape: shapes[0])),
                                           "p1": .dense(matrix(g[1], shape: shapes[1]))],
                               learningRate: Float(f["lr"]!.doubleValue!))
            let expected = run["after"]!.arrayValue![step].arrayValue!
            for k in 0..<2 {
                worst = max(worst, parameters[k].maxAbsoluteDifference(matrix(expected[k], shape: shapes[k])))
            }
        }
        print("AdamW vs torch (clip \(String(describing: maxNorm))): max abs difference \(worst)")
        #expect(worst < 1e-6)
    }
}
