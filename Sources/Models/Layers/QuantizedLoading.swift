// A frozen 2-D weight loaded as its file stores it, block-quantized (a GGUF Q4_K tensor, an
// MLX q4 module): kept when `--base-dtype` is auto or names that very type, so the blocks
// are held as they are (a view of the file's mapping where the rows need no reordering) and
// never widened but a tile at a time.

import TensorIO

/// The parameter held quantized as stored, or nil when the reader does not store it so, the
/// choice asks for something else, or its blocks do not fit the products' tiles (then the
/// caller reads it dequantized).
func loadQuantized(_ reader: TensorReader, name: String, file: String, shape: [Int], baseDType: BaseDType) throws -> Parameter? {
    guard let source = reader as? QuantizedTensorReader else { return nil }
    let stored: (matrix: QuantizedMatrix, transposed: Bool)?
    do {
        stored = try source.quantizedMatrix(for: file)
    } catch let error as QuantizedMatrixError {
        throw ModelError.invalidTensor(path: reader.path, name: file, problem: error.problem)
    }
    guard let (matrix, transposed) = stored else { return nil }
    switch (baseDType, matrix.format) {
    case (.auto, _): break
    case let (choice, .ggml(type)) where choice.quantizedType == type: break
    default: return nil
    }
    guard CompactMatrix.canHold(matrix) else { return nil }
    let found = transposed ? [matrix.columns, matrix.rows] : [matrix.rows, matrix.columns]
    guard found == shape else { throw ModelError.shapeMismatch(path: reader.path, name: file, expected: shape, found: found) }
    return Parameter(name: name, shape: shape, compact: CompactMatrix(quantized: matrix), transposed: transposed)
}
