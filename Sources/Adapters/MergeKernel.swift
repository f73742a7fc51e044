// The arithmetic of one merged tensor, in float64 from end to end:
//
//   acc  = base (or the modules_to_save replacement), upcast exactly
//   acc += sum over adapters of coefficient * B @ A   (cblas_dgemm, transposed for Conv1D and
//          embeddings), coefficient = weight * scale, negated by --subtract
//   DoRA: acc = m / ||acc||_row * acc
//   out  = acc rounded once into the output dtype
//
// float64 holds every product of two float32 factors exactly and the sums to within 2^-53,
// so the one final rounding gives the correctly rounded sum in F32, F16 and BF16 (a delta
// rounded to bf16 before adding would move about a third of the merged bf16 elements).
// Rows are processed in blocks of about 4 MB of float64, so the extra memory of a merge is
// one block, whatever the size of the tensor; DoRA needs whole rows and whole columns, so a
// DoRA tensor is one block.

import Compute
import CBLAS
import TensorIO

enum MergeKernel {
    static let supportedTypes: Set<DType> = [.F32, .F16, .BF16, .F64]
    static let blockElements = 1 << 19

    /// Runs `body` with OpenBLAS on one thread (the merge splits rows over the cores itself).
    static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        let threads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(threads) }
        return try body()
    }

    /// The merged values of `plan`, from `source` (the base tensor or a replacement).
    static func merge(_ plan: TensorPlan, source: TensorData, allowNonFinite: Bool) throws -> TensorData {
        let output = plan.output
        let shape = output.shape
        let count = output.elementCount
        let columns = shape.count >= 2 ? shape.last! : max(count, 1)
        let rows = count / max(columns, 1)
        let blockRows = plan.magnitude != nil ? rows : max(1, min(rows, blockElements / max(columns, 1)))
        let sourceType = source.info.dtype
        let sourceWidth = sourceType.byteWidth!
        let outputWidth = output.dtype.byteWidth!
        let result = ByteBuffer(count: output.byteCount)
        let accumulator = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, blockRows * columns))
        defer { accumulator.deallocate() }
        var nonFinite = 0
        let factors = plan.lowRank.map { (a: $0.update.a, b: $0.update.b) }

        var row = 0
        while row < rows {
            let n = min(blockRows, rows - row)
            let elements = n * columns
            let acc = UnsafeMutableBufferPointer(rebasing: accumulator[0..<elements])
            let sourceBytes = UnsafeRawBufferPointer(rebasing: source.bytes[row * columns * sourceWidth ..< (row + n) * columns * sourceWidth])
            try HalfWidening.widen(sourceType, from: sourceBytes, into: acc)
            source.releaseMappedPages(sourceBytes)

            // Each core takes a band of rows: OpenBLAS's own threads spin-wait between the
            // many small products of a merge (k = rank), costing more than they save.
            Parallel.forEachRange(count: n, minimumChunk: max(1, (1 << 14) / max(columns, 1))) { band in
                let slice = UnsafeMutableBufferPointer(rebasing: acc[band.lowerBound * columns ..< band.upperBound * columns])
                for (term, factor) in zip(plan.lowRank, factors) {
                    addLowRank(term, a: factor.a, b: factor.b, firstRow: row + band.lowerBound, rows: band.count, columns: columns, into: slice)
                }
            }
            for (values, coefficient) in plan.vectors {
                for j in 0..<elements { acc[j] += coefficient * values[row * columns + j] }
            }
            if let (magnitude, transposed) = plan.magnitude {
                applyDoRA(magnitude, transposed: transposed, rows: n, columns: columns, to: acc)
            }
            nonFinite += countNonFinite(UnsafeBufferPointer(acc), limit: overflowLimit(output.dtype))
            let destination = UnsafeMutableRawBufferPointer(rebasing: result.bytes[row * columns * outputWidth ..< (row + n) * columns * outputWidth])
            try HalfWidening.narrow(UnsafeBufferPointer(acc), to: output.dtype, into: destination)
            row += n
        }
        if nonFinite > 0 && !allowNonFinite {
            throw AdapterError.nonFinite(tensor: output.name, count: nonFinite)
        }
        return TensorData(info: output, buffer: result)
    }

    /// acc (rows firstRow..<firstRow+rows of the stored tensor) += c * (B @ A) or its transpose.
    static func addLowRank(_ term: AppliedLowRank, a: [Double], b: [Double], firstRow: Int, rows: Int, columns: Int,
                           into acc: UnsafeMutableBufferPointer<Double>) {
        let update = term.update
        let r = Int32(update.rank)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                if !term.transposed {
                    // Stored rows are B's rows: acc = B[firstRow..., :] (rows x r) @ A (r x columns).
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(columns), r,
                                term.coefficient, b.baseAddress! + firstRow * update.rank, r,
                                a.baseAddress!, Int32(update.aColumns), 1.0, acc.baseAddress!, Int32(columns))
                } else {
                    // Stored rows are A's columns: acc = A[:, firstRow...]ᵀ (rows x r) @ Bᵀ (r x columns).
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, Int32(rows), Int32(columns), r,
                                term.coefficient, a.baseAddress! + firstRow, Int32(update.aColumns),
                                b.baseAddress!, r, 1.0, acc.baseAddress!, Int32(columns))
                }
            }
        }
    }

    /// PEFT's DoRA merge: each output feature's weight vector rescaled to length m.
    static func applyDoRA(_ magnitude: [Double], transposed: Bool, rows: Int, columns: Int, to acc: UnsafeMutableBufferPointer<Double>) {
        if !transposed {
            for i in 0..<rows {
                let row = UnsafeMutableBufferPointer(rebasing: acc[i * columns ..< (i + 1) * columns])
                var sum = 0.0
                for x in row { sum += x * x }
                let factor = magnitude[i] / sum.squareRoot()
                for j in 0..<columns { row[j] *= factor }
            }
        } else {
            var sums = [Double](repeating: 0, count: columns)
            for i in 0..<rows { for j in 0..<columns { sums[j] += acc[i * columns + j] * acc[i * columns + j] } }
            let factors = (0..<columns).map { magnitude[$0] / sums[$0].squareRoot() }
            for i in 0..<rows { for j in 0..<columns { acc[i * columns + j] *= factors[j] } }
        }
    }

    /// The smallest magnitude that rounds to infinity in `dtype` (max finite + half an ulp).
    static func overflowLimit(_ dtype: DType) -> Double {
        switch dtype {
        case .F16: return 65520
        case .BF16: return 0x1p128 - 0x1p119  // max 0x1.FEp127 plus half an ulp (2^119)
        case .F32: return 0x1p128 - 0x1p103
        default: return .infinity
        }
    }

    static func countNonFinite(_ values: UnsafeBufferPointer<Double>, limit: Double) -> Int {
        var count = 0
        for x in values where !(abs(x) < limit) { count += 1 }
        return count
    }
}
