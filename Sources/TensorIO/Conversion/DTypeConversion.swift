// Converting tensor values from one element type to another, the way NumPy's and
// ml_dtypes' `astype` do (docs/dtypes.md has the rules and the few places loft differs).
//
// The common pairs (F32 <-> F16, F32 <-> BF16, F32 -> F8, F32 <-> F64, C64 <-> C128) have dedicated
// vectorised loops; 8- and 16-bit sources of large tensors go through a table of all their
// bit patterns; every other pair goes through Double (floats) or 64-bit integers, a block at
// a time. Large tensors are split over the cores.

import Compute

public enum DTypeConversionError: Error, CustomStringConvertible, Equatable {
    /// No value conversion between these types (sub-byte floats, E8M0, FNUZ, complex <-> real).
    case unsupported(tensor: String, from: DType, to: DType)
    /// The raw form was given buffers smaller than `count` elements.
    case bufferTooSmall(from: DType, to: DType, count: Int)

    public var description: String {
        switch self {
        case let .unsupported(tensor, from, to):
            let name = tensor.isEmpty ? "" : "tensor '\(tensor)': "
            return "\(name)cannot convert values from \(from.rawValue) to \(to.rawValue)"
                + " (value conversion supports \(DTypeConversion.supportedTypesList), and C64 <-> C128)"
        case let .bufferTooSmall(from, to, count):
            return "conversion \(from.rawValue) -> \(to.rawValue): buffers too small for \(count) elements"
        }
    }
}

public enum DTypeConversion {
    static let supportedTypesList = DType.valueTypes.map(\.rawValue).joined(separator: ", ")

    /// Whether values of `source` can be converted to `target`.
    public static func canConvert(from source: DType, to target: DType) -> Bool {
        if source == target { return true }
        if source.supportsValueConversion && target.supportsValueConversion { return true }
        return (source == .C64 && target == .C128) || (source == .C128 && target == .C64)
    }

    /// The tensor's values as `dtype` (same name and shape). The same dtype returns `data`
    /// itself, without a copy.
    public static func convert(_ data: TensorData, to dtype: DType) throws -> TensorData {
        let source = data.info.dtype
        if source == dtype { return data }
        guard canConvert(from: source, to: dtype) else {
            throw DTypeConversionError.unsupported(tensor: data.info.name, from: source, to: dtype)
        }
        let info = TensorInfo(name: data.info.name, dtype: dtype, shape: data.info.shape)
        let buffer = ByteBuffer(count: info.byteCount)
        try convert(from: source, source: data.bytes, to: dtype, destination: buffer.bytes,
                    count: data.info.elementCount)
        return TensorData(info: info, buffer: buffer)
    }

    /// Converts `count` elements from `source` (little-endian `from` values) into
    /// `destination` (as `to` values), using every core for large counts.
    public static func convert(
        from sourceType: DType, source: UnsafeRawBufferPointer,
        to targetType: DType, destination: UnsafeMutableRawBufferPointer, count: Int
    ) throws {
        guard canConvert(from: sourceType, to: targetType) else {
            throw DTypeConversionError.unsupported(tensor: "", from: sourceType, to: targetType)
        }
        // Sizes in bits: a same-type copy may be of a packed sub-byte type (F4, F6_*).
        let (sourceBits, overflowIn) = count.multipliedReportingOverflow(by: sourceType.bitWidth)
        let (targetBits, overflowOut) = count.multipliedReportingOverflow(by: targetType.bitWidth)
        guard count >= 0, !overflowIn, !overflowOut,
              source.count >= (sourceBits + 7) / 8, destination.count >= (targetBits + 7) / 8
        else { throw DTypeConversionError.bufferTooSmall(from: sourceType, to: targetType, count: count) }
        guard count > 0 else { return }
        let input = source.baseAddress!
        let output = destination.baseAddress!
        if sourceType == targetType {
            output.copyMemory(from: input, byteCount: (sourceBits + 7) / 8)
            return
        }
        // Complex pairs are their real/imaginary parts converted as floats.
        let (from, to, elements) = switch (sourceType, targetType) {
        case (.C64, .C128): (DType.F32, DType.F64, count * 2)
        case (.C128, .C64): (DType.F64, DType.F32, count * 2)
        default: (sourceType, targetType, count)
        }
        if LookupConversion.applies(from: from, to: to, count: elements) {
            let table = LookupConversion.table(from: from, to: to)
            Parallel.forEachRange(count: elements, minimumChunk: 1 << 16) { range in
                LookupConversion.convert(table: table, from: from, input, to: to, output, range)
            }
            return
        }
        // The vectorised loops read whole elements; a view at an odd address (possible in a
        // file written by another tool) goes through an aligned block buffer.
        let aligned = Int(bitPattern: input) % from.byteWidth! == 0 && Int(bitPattern: output) % to.byteWidth! == 0
        Parallel.forEachRange(count: elements, minimumChunk: 1 << 16) { range in
            if aligned {
                convertRange(from: from, input, to: to, output, range)
            } else {
                convertUnaligned(from: from, input, to: to, output, range)
            }
        }
    }

    /// One thread's share: elements `range` of the buffers.
    static func convertRange(from: DType, _ input: UnsafeRawPointer, to: DType, _ output: UnsafeMutableRawPointer, _ range: Range<Int>) {
        let n = range.count
        let start = range.lowerBound
        switch (from, to) {
        case (.F32, .F16):
            HalfKernels.f32ToF16(input.assumingMemoryBound(to: UInt32.self) + start,
                                 output.assumingMemoryBound(to: UInt16.self) + start, n)
        case (.F16, .F32):
            HalfKernels.f16ToF32(input.assumingMemoryBound(to: UInt16.self) + start,
                                 output.assumingMemoryBound(to: UInt32.self) + start, n)
        case (.F32, .BF16):
            HalfKernels.f32ToBF16(input.assumingMemoryBound(to: UInt32.self) + start,
                                  output.assumingMemoryBound(to: UInt16.self) + start, n)
        case (.BF16, .F32):
            HalfKernels.bf16ToF32(input.assumingMemoryBound(to: UInt16.self) + start,
                                  output.assumingMemoryBound(to: UInt32.self) + start, n)
        case (.F32, .F8_E4M3):
            HalfKernels.f32ToF8(input.assumingMemoryBound(to: UInt32.self) + start,
                                output.assumingMemoryBound(to: UInt8.self) + start, n, format: .e4m3fn)
        case (.F32, .F8_E5M2):
            HalfKernels.f32ToF8(input.assumingMemoryBound(to: UInt32.self) + start,
                                output.assumingMemoryBound(to: UInt8.self) + start, n, format: .e5m2)
        case (.F32, .F64):
            HalfKernels.f32ToF64(input.assumingMemoryBound(to: Float.self) + start,
                                 output.assumingMemoryBound(to: Double.self) + start, n)
        case (.F64, .F32):
            HalfKernels.f64ToF32(input.assumingMemoryBound(to: Double.self) + start,
                                 output.assumingMemoryBound(to: Float.self) + start, n)
        default:
            GenericConversion.convert(from: from, input, to: to, output, range)
        }
    }

    static func convertUnaligned(from: DType, _ input: UnsafeRawPointer, to: DType, _ output: UnsafeMutableRawPointer, _ range: Range<Int>) {
        let block = 1024
        let inWidth = from.byteWidth!, outWidth = to.byteWidth!
        let source = UnsafeMutableRawPointer.allocate(byteCount: block * inWidth, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: block * outWidth, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        var start = range.lowerBound
        while start < range.upperBound {
            let n = min(block, range.upperBound - start)
            source.copyMemory(from: input + start * inWidth, byteCount: n * inWidth)
            convertRange(from: from, source, to: to, target, 0..<n)
            (output + start * outWidth).copyMemory(from: target, byteCount: n * outWidth)
            start += n
        }
    }
}
