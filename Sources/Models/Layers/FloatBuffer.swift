// Float32 storage for weights, gradients and activations.
//
// Layers work on raw pointers (llm.c style); this class only holds the memory. Activations
// own a 64-byte aligned heap block (BLAS and the vectorised loops get aligned rows),
// zero-filled because gradients accumulate into it. Parameters, their gradients and adapter
// factors are views of a Compute `Matrix` (`matrix`), the type the LoFT optimizer
// updates in place: model and optimizer then share one copy, nothing is copied per step.

import Compute

public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// The matrix this buffer views (parameters, gradients, adapter factors); nil for activations.
    public let matrix: Matrix?

    public init(count: Int) {
        precondition(count >= 0)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        self.count = count
        matrix = nil
    }

    /// A zeroed rows x columns matrix, viewed as a flat buffer.
    public init(rows: Int, columns: Int) {
        let storage = Matrix(rows: rows, columns: columns)
        matrix = storage
        count = rows * columns
        pointer = storage.baseAddress
    }

    /// A matrix for a tensor of `shape`: 2-D as is, any other rank as 1 x count.
    public convenience init(tensorShape shape: [Int]) {
        if shape.count == 2 { self.init(rows: shape[0], columns: shape[1]) } else { self.init(rows: 1, columns: shape.reduce(1, *)) }
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public subscript(index: Int) -> Float {
        get { precondition(index >= 0 && index < count); return pointer[index] }
        set { precondition(index >= 0 && index < count); pointer[index] = newValue }
    }

    /// This buffer as a matrix of `shape` (2-D, or 1 x count): itself when it already is one,
    /// otherwise a copy.
    func asMatrix(shape: [Int]) -> FloatBuffer {
        let (rows, columns) = shape.count == 2 ? (shape[0], shape[1]) : (1, shape.reduce(1, *))
        if let matrix, matrix.rows == rows, matrix.columns == columns { return self }
        let copy = FloatBuffer(rows: rows, columns: columns)
        copy.pointer.update(from: pointer, count: count)
        return copy
    }

    deinit { if matrix == nil { UnsafeMutableRawPointer(pointer).deallocate() } }
}
