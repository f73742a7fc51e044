// GFLOP/s of the products with a bf16 weight at the SmolLM-135M shapes (B 4 x T 256 = 1024
// rows): sgemm on a float32 weight, the bf16-held weight computed in float32 (widened tile by
// tile, `--base-dtype bf16`), and computed in bf16 (AVX-512 BF16, `--base-compute bf16`).

import ArgumentParser
import Compute
import Foundation
import Models

struct BF16GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bf16-gemm",
        abstract: "GFLOP/s of sgemm, the bf16 weight widened tile by tile, and the AVX-512 BF16 kernel (1024-row products).")

    @Option(help: "Timed repeats per product (the fastest is reported).") var repeats = 5

    func run() throws {
        print("AVX-512 BF16 kernel: \(BF16Products.available ? "yes" : "no (bf16 rows use the float32 fallback)")")
        print("GFLOP/s per second of wall time (per second of CPU time of all threads)")
        print("m x n x k, C = A op(S)        sgemm (f32 S)      bf16 S, f32 compute    bf16 S, bf16 compute")
        // (m, n, k, transposed): q/o-like and MLP products both ways, the head forward and its input gradient.
        let shapes = [(1024, 576, 1536, true), (1024, 576, 1536, false), (1024, 1536, 576, true), (1024, 1536, 576, false),
                      (1024, 49152, 576, true), (1024, 576, 49152, false)]
        for (m, n, k, transposed) in shapes {
            let rows = transposed ? n : k, columns = transposed ? k : n
            let weight = FloatBuffer(count: rows * columns), a = FloatBuffer(count: m * k), c = FloatBuffer(count: m * n)
            var generator = SeededGenerator(seed: 1)
            for i in 0..<weight.count { weight[i] = generator.uniform(-0.05, 0.05) }
            for i in 0..<a.count { a[i] = generator.uniform(-1, 1) }
            let compact = CompactMatrix(rows: rows, columns: columns, dtype: .bfloat16, rounding: weight.pointer)
            let flops = 2 * Double(m * n * k)
            func rate(_ body: () -> Void) -> (Double, Double) {
                body()
                let t = Timing.best(repeats, body)
                return (flops / t.wall / 1e9, flops / t.cpu / 1e9)
            }
            let sgemm = rate {
                gemm(transposeA: false, transposeB: transposed, m: m, n: n, k: k, a.pointer, lda: k, weight.pointer, ldb: columns,
                     beta: 0, c.pointer, ldc: n)
            }
            func product() {
                if transposed { compact.productTransposed(m: m, a.pointer, lda: k, beta: 0, c.pointer, ldc: n) }
                else { compact.product(m: m, a.pointer, lda: k, beta: 0, c.pointer, ldc: n) }
            }
            compact.computesInBF16 = false
            let widened = rate(product)
            compact.computesInBF16 = true
            let bf16 = rate(product)
            let label = "\(m) x \(n) x \(k) \(transposed ? "A S^T" : "A S  ")"
            print(label.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: "%7.1f (%6.1f)      %7.1f (%6.1f)        %7.1f (%6.1f)", sgemm.0, sgemm.1, widened.0, widened.1, bf16.0, bf16.1))
        }
        print("The fastest of \(repeats) runs; CPU time counts OpenBLAS's threads spinning while they wait.")
    }
}
