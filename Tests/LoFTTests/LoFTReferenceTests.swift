// LoFT-AdamW below full rank against an independent dense float64 transcription of the spec
// (fixtures/loft/loft-trajectories.json, from fixtures/generators/loft.py): explicit
// inverses, full r x r matrices, whole m x n matrices. Checks the packed, tiled float32 code
// where the full-rank comparison with AdamW cannot, including the ablations' meaning.

import Foundation
import Compute
import Testing
import TensorIO
@testable import LoFT

@Suite struct LoFTReferenceTests {
    static let fixture: JSONValue = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try! String(contentsOf: root.appendingPathComponent("fixtures/loft/loft-trajectories.json"), encoding: .utf8)
        return try! JSON.parse(text)
    }()

    static let cases: [(String, LoFTOptions)] = [
        ("loft", .full), ("loft-no-alternate", .noAlternation), ("loft-no-calibration", .noCalibration),
    ]

    @Test(arguments: cases) func followsTheDenseReference(name: String, options: LoFTOptions) throws {
        let f = Self.fixture
        let (m, n, r) = (f["m"]!.intValue!, f["n"]!.intValue!, f["r"]!.intValue!)
        func matrix(_ value: JSONValue?, _ rows: Int, _ columns: Int) -> Matrix {
            Matrix(rows: rows, columns: columns, elements: value!.arrayValue!.map { Float($0.doubleValue!) })
        }
        let number = { (key: String) in Float(f[key]!.doubleValue!) }
        let h = AdamWHyperparameters(beta1: number("b1"), beta2: number("b2"), eps: number("eps"), weightDecay: number("wd"))
        let pair = LowRankPair(a: matrix(f["A"], r, n), b: matrix(f["B"], m, r))
        let problem = QuadraticProblem(target: matrix(f["T"], m, n))
        let products = try trajectory(pair, Optimizer(method: .loft(options), hyperparameters: h), problem,
                                      steps: f["steps"]!.intValue!, learningRate: number("lr"))
        let expected = f["products"]![name]!.arrayValue!.map { matrix($0, m, n) }
        let difference = worstRelativeDifference(products, expected)
        print("LoFT vs dense float64 reference (\(name), m \(m) n \(n) r \(r), 12 steps): \(difference)")
        #expect(difference < 1e-4)
    }
}
