// Applies a GGUFLayout to a row-major float matrix (export) or undoes it (import).

import Compute
import TensorIO

public enum GGUFLayoutTransform {
    /// `values` has `shape` (HF order); returns the GGUF-order values and shape.
    public static func apply(_ layout: GGUFLayout, _ values: [Float], shape: [Int], inverse: Bool = false) -> (values: [Float], shape: [Int]) {
        switch layout {
        case .unchanged:
            return (values, shape)
        case .transposed:
            guard shape.count == 2 else { return (values, shape) }
            let rows = shape[0], columns = shape[1]
            var out = [Float](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { source in
                out.withUnsafeMutableBufferPointer { target in
                    let s = source.baseAddress!, t = target.baseAddress!
                    Parallel.forEachRange(count: rows, minimumChunk: max(1, 1 << 14 / max(columns, 1))) { range in
                        for r in range { for c in 0..<columns { t[c * rows + r] = s[r * columns + c] } }
                    }
                }
            }
            return (out, [columns, rows])
        case let .shifted(offset):
            let delta = inverse ? -offset : offset
            return (values.map { $0 + delta }, shape)
        case let .rotary(heads):
            guard shape.count >= 1, heads > 0, shape[0] % (2 * heads) == 0 else { return (values, shape) }
            let rows = shape[0], width = values.count / max(rows, 1)
            let headDim = rows / heads, half = headDim / 2
            var out = [Float](repeating: 0, count: values.count)
            for h in 0..<heads {
                for j in 0..<2 {
                    for i in 0..<half {
                        let hf = h * headDim + j * half + i, gguf = h * headDim + 2 * i + j
                        let (from, to) = inverse ? (gguf, hf) : (hf, gguf)
                        for c in 0..<width { out[to * width + c] = values[from * width + c] }
                    }
                }
            }
            return (out, shape)
        }
    }
}
