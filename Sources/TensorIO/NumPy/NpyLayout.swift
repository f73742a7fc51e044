// Turning stored .npy data into loft's layout (little-endian, C order).
//
// Little-endian C-order data is used where it lies (a view into the file mapping). Big-endian
// data is byte-swapped and Fortran-order data transposed into a fresh ByteBuffer: Fortran
// order of shape (d0, ..., dn-1) is C order of the reversed shape, so element (i0, ..., in-1)
// sits at i0 + d0*(i1 + d1*(i2 + ...)).

import Compute

enum NpyLayout {
    /// A view when nothing needs rearranging, aligned or not (np.savez leaves stored members
    /// at any offset; readers of typed elements go through TensorData.withElements or
    /// aligned(), which copy only then); otherwise a rearranged copy.
    static func tensorData(info: TensorInfo, header: NpyHeader, source: UnsafeRawBufferPointer, owner: AnyObject?) -> TensorData {
        precondition(source.count == info.byteCount)
        if !header.bigEndian && !needsTranspose(header) {
            return TensorData(info: info, bytes: source, owner: owner)
        }
        let buffer = ByteBuffer(count: source.count)
        rearrange(header: header, source: source, into: buffer.bytes)
        return TensorData(info: info, buffer: buffer)
    }

    /// Rearranges in place when the data was inflated into a buffer of our own.
    static func tensorData(info: TensorInfo, header: NpyHeader, buffer: ByteBuffer) -> TensorData {
        if needsTranspose(header) {
            let output = ByteBuffer(count: buffer.count)
            rearrange(header: header, source: UnsafeRawBufferPointer(buffer.bytes), into: output.bytes)
            return TensorData(info: info, buffer: output)
        }
        if header.bigEndian { swapBytes(buffer.bytes, wordSize: wordSize(header.dtype)) }
        return TensorData(info: info, buffer: buffer)
    }

    /// Fortran order only differs from C order when two or more axes are longer than 1.
    static func needsTranspose(_ header: NpyHeader) -> Bool {
        header.fortranOrder && header.shape.filter { $0 > 1 }.count > 1
    }

    /// Complex numbers are swapped per component.
    static func wordSize(_ dtype: DType) -> Int {
        switch dtype {
        case .C64: return 4
        case .C128: return 8
        default: return max(1, dtype.bitWidth / 8)
        }
    }

    static func rearrange(header: NpyHeader, source: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        if needsTranspose(header) {
            transposeFortran(shape: header.shape, elementSize: header.dtype.bitWidth / 8, source: source, into: output)
        } else if source.count > 0 {
            output.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        if header.bigEndian { swapBytes(output, wordSize: wordSize(header.dtype)) }
    }

    static func swapBytes(_ bytes: UnsafeMutableRawBufferPointer, wordSize: Int) {
        guard let base = bytes.baseAddress, wordSize > 1 else { return }
        let words = bytes.count / wordSize
        func swapAll<T: FixedWidthInteger>(_: T.Type) {
            let typed = base.bindMemory(to: T.self, capacity: words)
            Parallel.forEachRange(count: words, minimumChunk: 1 << 18) { range in
                for i in range { typed[i] = typed[i].byteSwapped }
            }
        }
        switch wordSize {
        case 2: swapAll(UInt16.self)
        case 4: swapAll(UInt32.self)
        case 8: swapAll(UInt64.self)
        default: preconditionFailure("no \(wordSize)-byte words in .npy")
        }
    }

    /// C-order output, walked row by row (the last axis inner); the source is read with the
    /// Fortran stride of each axis.
    static func transposeFortran(shape: [Int], elementSize: Int, source: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        let count = shape.reduce(1, *)
        guard count > 0, let src = source.baseAddress, let dst = output.baseAddress else { return }
        var strides = [Int](repeating: 1, count: shape.count)
        for k in 1..<shape.count { strides[k] = strides[k - 1] * shape[k - 1] }
        let rowLength = shape[shape.count - 1]
        let rowStride = strides[shape.count - 1]
        let rows = count / rowLength
        func run<T>(_: T.Type) {
            let s = src.assumingMemoryBound(to: UInt8.self)
            let d = dst.bindMemory(to: T.self, capacity: count)
            if shape.count == 2 {
                transposeTiled(rows: shape[0], columns: shape[1], source: UnsafeRawPointer(s), into: d)
                return
            }
            // Rows are independent, so the two cores take half the rows each.
            Parallel.forEachRange(count: rows, minimumChunk: max(1, (1 << 16) / max(1, rowLength))) { range in
                var index = [Int](repeating: 0, count: shape.count - 1)
                var rest = range.lowerBound
                var base = 0
                for k in stride(from: shape.count - 2, through: 0, by: -1) {
                    index[k] = rest % shape[k]
                    rest /= shape[k]
                    base += index[k] * strides[k]
                }
                for row in range {
                    let out = d + row * rowLength
                    for j in 0..<rowLength {
                        out[j] = UnsafeRawPointer(s + (base + j * rowStride) * MemoryLayout<T>.size).loadUnaligned(as: T.self)
                    }
                    // Odometer over the outer axes, last of them fastest.
                    var k = shape.count - 2
                    while k >= 0 {
                        index[k] += 1
                        base += strides[k]
                        if index[k] < shape[k] { break }
                        base -= index[k] * strides[k]
                        index[k] = 0
                        k -= 1
                    }
                }
            }
        }
        switch elementSize {
        case 1: run(UInt8.self)
        case 2: run(UInt16.self)
        case 4: run(UInt32.self)
        case 8: run(UInt64.self)
        case 16: run(SIMD2<UInt64>.self)
        default: preconditionFailure("no \(elementSize)-byte elements in .npy")
        }
    }

    /// A Fortran matrix is the C-order transpose: copied in square tiles so both the reads
    /// and the writes stay within a few cache lines (a plain strided loop is several times
    /// slower on large matrices).
    static func transposeTiled<T>(rows: Int, columns: Int, source: UnsafeRawPointer, into output: UnsafeMutablePointer<T>) {
        let tile = 32
        let tileRows = (rows + tile - 1) / tile
        Parallel.forEachRange(count: tileRows, minimumChunk: max(1, (1 << 16) / max(1, tile * columns))) { range in
            for tileRow in range {
                let i0 = tileRow * tile, i1 = min(rows, i0 + tile)
                for j0 in stride(from: 0, to: columns, by: tile) {
                    let j1 = min(columns, j0 + tile)
                    for i in i0..<i1 {
                        let out = output + i * columns
                        for j in j0..<j1 {
                            out[j] = source.loadUnaligned(fromByteOffset: (j * rows + i) * MemoryLayout<T>.size, as: T.self)
                        }
                    }
                }
            }
        }
    }
}
