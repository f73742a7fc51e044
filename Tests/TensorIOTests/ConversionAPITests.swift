import Testing
@testable import TensorIO

/// DTypeConversion as callers use it, and the documented rules of docs/dtypes.md shown on
/// single values (NumPy's result for each in-range value; loft's choice where NumPy's is
/// undefined).
@Suite struct ConversionAPITests {
    /// A 1-d tensor of `values` (pairs of them for complex dtypes).
    func tensor<T>(_ values: [T], _ dtype: DType, name: String = "t") -> TensorData {
        let buffer = ByteBuffer(count: values.count * MemoryLayout<T>.stride)
        values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
        let elements = values.count * MemoryLayout<T>.stride / dtype.byteWidth!
        return TensorData(info: TensorInfo(name: name, dtype: dtype, shape: [elements]), buffer: buffer)
    }

    func values<T>(_ data: TensorData, as: T.Type) -> [T] { Array(data.bytes.bindMemory(to: T.self)) }

    @Test func sameDtypeReturnsTheInputUntouched() throws {
        let input = tensor([Float(1), 2, 3], .F32)
        let output = try DTypeConversion.convert(input, to: .F32)
        #expect(output.bytes.baseAddress == input.bytes.baseAddress)
        #expect(output.owner === input.owner)
    }

    @Test func keepsNameAndShape() throws {
        let input = TensorData(info: TensorInfo(name: "layer.0.weight", dtype: .F32, shape: [2, 3]),
                               buffer: ByteBuffer(count: 24))
        let output = try DTypeConversion.convert(input, to: .BF16)
        #expect(output.info == TensorInfo(name: "layer.0.weight", dtype: .BF16, shape: [2, 3]))
        #expect(output.bytes.count == 12)
    }

    @Test func unsupportedPairNamesTensorAndBothDtypes() {
        let input = TensorData(info: TensorInfo(name: "codes", dtype: .F8_E8M0, shape: [4]), buffer: ByteBuffer(count: 4))
        #expect(throws: DTypeConversionError.unsupported(tensor: "codes", from: .F8_E8M0, to: .F32)) {
            try DTypeConversion.convert(input, to: .F32)
        }
        let message = DTypeConversionError.unsupported(tensor: "codes", from: .F8_E8M0, to: .F32).description
        #expect(message.contains("codes") && message.contains("F8_E8M0") && message.contains("F32"))
        #expect(throws: DTypeConversionError.unsupported(tensor: "z", from: .C64, to: .F32)) {
            try DTypeConversion.convert(tensor([Float(1), 2], .C64, name: "z"), to: .F32)
        }
    }

    @Test func rawFormRefusesShortBuffers() {
        let source = [Float](repeating: 1, count: 4)
        var destination = [UInt16](repeating: 0, count: 3)
        #expect(throws: DTypeConversionError.bufferTooSmall(from: .F32, to: .F16, count: 4)) {
            try source.withUnsafeBytes { s in
                try destination.withUnsafeMutableBytes { try DTypeConversion.convert(from: .F32, source: s, to: .F16, destination: $0, count: 4) }
            }
        }
    }

    @Test func emptyTensorConverts() throws {
        let input = TensorData(info: TensorInfo(name: "e", dtype: .F32, shape: [0, 5]), buffer: ByteBuffer(count: 0))
        let output = try DTypeConversion.convert(input, to: .F16)
        #expect(output.info.shape == [0, 5] && output.bytes.isEmpty)
    }

    @Test func complex64AndComplex128ConvertPartByPart() throws {
        let pairs: [Float] = [1.5, -2, .infinity, 0.1]
        let wide = try DTypeConversion.convert(tensor(pairs, .C64), to: .C128)
        #expect(values(wide, as: Double.self) == pairs.map(Double.init))
        let narrow = try DTypeConversion.convert(wide, to: .C64)
        #expect(values(narrow, as: Float.self) == pairs)
    }

    /// Float -> integer: truncation toward zero (NumPy); NaN -> 0 and saturation outside the
    /// range (NumPy's result there is undefined).
    @Test func floatsToIntegersTruncateAndSaturate() throws {
        let input = tensor([Float(-1.9), 1.9, 300.7, -300.7, .nan, .infinity, -.infinity, -0.5], .F32)
        #expect(values(try DTypeConversion.convert(input, to: .I8), as: Int8.self) == [-1, 1, 127, -128, 0, 127, -128, 0])
        #expect(values(try DTypeConversion.convert(input, to: .U8), as: UInt8.self) == [0, 1, 255, 0, 0, 255, 0, 0])
        #expect(values(try DTypeConversion.convert(input, to: .I64), as: Int64.self) == [-1, 1, 300, -300, 0, .max, .min, 0])
    }

    /// Integer -> narrower integer keeps the low bits (modulo 2^bits), as NumPy's astype.
    @Test func integersWrapWhenNarrowing() throws {
        let input = tensor([Int32(300), -1, 65537, -129], .I32)
        #expect(values(try DTypeConversion.convert(input, to: .I8), as: Int8.self) == [44, -1, 1, 127])
        #expect(values(try DTypeConversion.convert(input, to: .U16), as: UInt16.self) == [300, 65535, 1, 65407])
    }

    /// Large integers round once, to nearest even: 2^62 + 2^54 + 1 is just above the halfway
    /// point between two bfloat16 values, so it rounds up (through Double it would tie down).
    @Test func largeIntegersRoundCorrectlyToBFloat16() throws {
        let input = tensor([Int64(1 << 62) + (1 << 54) + 1, Int64(1 << 62) + (1 << 54)], .I64)
        let output = values(try DTypeConversion.convert(input, to: .BF16), as: UInt16.self)
        // 2^62 is 0x5E80; its bfloat16 successor is 0x5E81; the exact tie goes to the even one.
        #expect(output == [0x5E81, 0x5E80])
    }

    @Test func boolReadsAnyNonzeroByteAsTrueAndWritesZeroOrOne() throws {
        let input = tensor([UInt8(0), 1, 2, 255], .BOOL)
        #expect(values(try DTypeConversion.convert(input, to: .F32), as: Float.self) == [0, 1, 1, 1])
        let floats = tensor([Float(0), -0.0, .nan, 0.25], .F32)
        #expect(values(try DTypeConversion.convert(floats, to: .BOOL), as: UInt8.self) == [0, 0, 1, 1])
    }

    /// Overflow per target type (the table in docs/dtypes.md): F16, BF16 and F8_E5M2 go to
    /// ±Inf; F8_E4M3 has no Inf, so overflow and ±Inf become NaN with the sign kept.
    @Test func overflowGoesToInfinityOrToNaNForE4M3() throws {
        let input = tensor([Float(1e10), -1e10, .infinity, 464, 480], .F32)
        #expect(values(try DTypeConversion.convert(input, to: .F16), as: UInt16.self) == [0x7C00, 0xFC00, 0x7C00, 0x5F40, 0x5F80])
        #expect(values(try DTypeConversion.convert(input, to: .F8_E5M2), as: UInt8.self) == [0x7C, 0xFC, 0x7C, 0x5F, 0x60])
        // 464 is halfway between 448 (the largest, 0x7E) and the missing 480: ties to even 448.
        #expect(values(try DTypeConversion.convert(input, to: .F8_E4M3), as: UInt8.self) == [0x7F, 0xFF, 0x7F, 0x7E, 0x7F])
        #expect(values(try DTypeConversion.convert(tensor([Float.greatestFiniteMagnitude], .F32), to: .BF16), as: UInt16.self) == [0x7F80])
    }

    /// A tensor split over both cores converts exactly like its pieces converted one by one.
    @Test func parallelSplitMatchesPieceByPiece() throws {
        let count = 1 << 20
        let source = (0..<count).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2_654_435_761)) }
        let whole = values(try DTypeConversion.convert(tensor(source, .F32), to: .F16), as: UInt16.self)
        var pieces: [UInt16] = []
        for start in stride(from: 0, to: count, by: 1000) {
            let slice = Array(source[start..<min(count, start + 1000)])
            pieces += values(try DTypeConversion.convert(tensor(slice, .F32), to: .F16), as: UInt16.self)
        }
        #expect(whole == pieces)
    }
}
