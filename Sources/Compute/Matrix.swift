// A dense float32 matrix: contiguous, row-major, on a 64-byte aligned heap buffer.
//
// Matrix is a reference type on purpose: a model layer and the optimizer that trains it hold
// the same Matrix, and the optimizer updates it in place (as PyTorch parameters are updated
// in place). `copy()` gives an independent matrix when one is wanted.

import CBLAS

public final class Matrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    /// The elements, row after row. Owned by this matrix; valid while it lives.
    public let storage: UnsafeMutableBufferPointer<Float>

    /// A matrix of zeros.
    public init(rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative shape \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        let count = rows * columns
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        let pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        storage = UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// A matrix holding `elements` in row-major order.
    public convenience init(rows: Int, columns: Int, elements: [Float]) {
        precondition(elements.count == rows * columns, "Matrix: \(elements.count) elements for \(rows) x \(columns)")
        self.init(rows: rows, columns: columns)
        _ = storage.update(fromContentsOf: elements)
    }

    /// A matrix whose element (i, j) is `value(i, j)`.
    public convenience init(rows: Int, columns: Int, _ value: (Int, Int) -> Float) {
        self.init(rows: rows, columns: columns)
        for i in 0..<rows { for j in 0..<columns { storage[i * columns + j] = value(i, j) } }
    }

    public static func identity(_ order: Int) -> Matrix {
        Matrix(rows: order, columns: order) { i, j in i == j ? 1 : 0 }
    }

    deinit { storage.baseAddress?.deallocate() }

    public var count: Int { rows * columns }
    public var shape: [Int] { [rows, columns] }
    public var elements: [Float] { Array(storage) }
    /// First element; BLAS calls take this with a leading dimension of `columns`.
    public var baseAddress: UnsafeMutablePointer<Float> { storage.baseAddress! }

    public subscript(row: Int, column: Int) -> Float {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns)
            return storage[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns)
            storage[row * columns + column] = newValue
        }
    }

    /// An independent matrix with the same shape and elements.
    public func copy() -> Matrix {
        let result = Matrix(rows: rows, columns: columns)
        result.assign(self)
        return result
    }

    /// Copies the elements of `other` (same shape) into this matrix.
    public func assign(_ other: Matrix) {
        precondition(other.rows == rows && other.columns == columns, "Matrix.assign: \(other.shape) into \(shape)")
        if count > 0 { baseAddress.update(from: other.baseAddress, count: count) }
    }

    public func fill(_ value: Float) {
        storage.update(repeating: value)
    }

    /// self *= factor.
    public func scale(by factor: Float) {
        guard count > 0 else { return }
        cblas_sscal(Int32(count), factor, baseAddress, 1)
    }

    /// self += factor * other.
    public func add(_ other: Matrix, scaledBy factor: Float = 1) {
        precondition(other.rows == rows && other.columns == columns, "Matrix.add: \(other.shape) to \(shape)")
        guard count > 0 else { return }
        cblas_saxpy(Int32(count), factor, other.baseAddress, 1, baseAddress, 1)
    }

    /// Sum of squares, accumulated in Double (BLAS dsdot) so large matrices keep their precision.
    public func squaredNorm() -> Double {
        var total = 0.0
        var start = 0
        while start < count {
            let chunk = min(count - start, 1 << 30)
            total += cblas_dsdot(Int32(chunk), baseAddress + start, 1, baseAddress + start, 1)
            start += chunk
        }
        return total
    }

    public func frobeniusNorm() -> Double { squaredNorm().squareRoot() }

    /// The matrix with rows and columns swapped (a new matrix; products never need it, see
    /// `Matrix.product`).
    public func transposed() -> Matrix {
        Matrix(rows: columns, columns: rows) { i, j in self[j, i] }
    }

    /// The elements as Double, row-major (for the small solves that run in Double).
    public func doubleElements() -> [Double] {
        // One conversion loop over the buffer (map would append element by element).
        let source = storage
        return [Double](unsafeUninitializedCapacity: count) { target, initialized in
            for k in 0..<source.count { target[k] = Double(source[k]) }
            initialized = source.count
        }
    }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        let shown = (0..<min(rows, 6)).map { i in
            (0..<min(columns, 8)).map { j in "\(self[i, j])" }.joined(separator: " ")
        }
        return "Matrix \(rows) x \(columns)\n" + shown.joined(separator: "\n")
    }
}

extension Matrix {
    /// max |self - other| over all elements.
    public func maxAbsoluteDifference(_ other: Matrix) -> Float {
        precondition(other.rows == rows && other.columns == columns)
        var worst: Float = 0
        for k in 0..<count { worst = max(worst, abs(storage[k] - other.storage[k])) }
        return worst
    }

    /// ||self - other||_F / ||other||_F (0 when both are zero).
    public func relativeDifference(to other: Matrix) -> Double {
        precondition(other.rows == rows && other.columns == columns)
        var difference = 0.0
        for k in 0..<count {
            let d = Double(storage[k]) - Double(other.storage[k])
            difference += d * d
        }
        let reference = other.squaredNorm()
        if reference == 0 { return difference == 0 ? 0 : .infinity }
        return (difference / reference).squareRoot()
    }
}
