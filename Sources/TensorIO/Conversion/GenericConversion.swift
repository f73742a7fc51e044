// The conversions without a dedicated loop: each block of elements is widened to Double (a
// float source) or to a 64-bit integer (an integer or bool source), then narrowed to the
// target. Loads are unaligned-safe, so these also serve buffers at odd addresses.

enum GenericConversion {
    static let blockSize = 1024

    static func convert(from: DType, _ input: UnsafeRawPointer, to: DType, _ output: UnsafeMutableRawPointer, _ range: Range<Int>) {
        let floatSource = from.isFloatingPoint
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: blockSize) { scratch in
            let block = scratch.baseAddress!
            var start = range.lowerBound
            while start < range.upperBound {
                let n = min(blockSize, range.upperBound - start)
                if floatSource {
                    let doubles = UnsafeMutableRawPointer(block).assumingMemoryBound(to: Double.self)
                    loadDoubles(from, input, start, n, doubles)
                    storeDoubles(doubles, n, to, output, start, keepNaNPayload: from == .F32 || from == .F64)
                } else {
                    loadIntegers(from, input, start, n, block)
                    storeIntegers(block, signed: from.isSignedInteger, n, to, output, start)
                }
                start += n
            }
        }
    }

    // MARK: Widening

    /// Exact values of a float block. F16 NaNs keep their payload (NumPy's float16 -> float64
    /// does); F32 and BF16 widen in hardware (NaNs quieted, as NumPy and ml_dtypes do); F8
    /// NaNs become the quiet NaN.
    static func loadDoubles(_ dtype: DType, _ input: UnsafeRawPointer, _ start: Int, _ n: Int, _ out: UnsafeMutablePointer<Double>) {
        switch dtype {
        case .F64: for i in 0..<n { out[i] = input.loadUnaligned(fromByteOffset: (start + i) * 8, as: Double.self) }
        case .F32: for i in 0..<n { out[i] = Double(input.loadUnaligned(fromByteOffset: (start + i) * 4, as: Float.self)) }
        case .BF16:
            for i in 0..<n {
                let bits = UInt32(input.loadUnaligned(fromByteOffset: (start + i) * 2, as: UInt16.self)) << 16
                out[i] = Double(Float(bitPattern: bits))
            }
        case .F16:
            for i in 0..<n {
                let code = UInt64(input.loadUnaligned(fromByteOffset: (start + i) * 2, as: UInt16.self))
                out[i] = MiniFloatFormat.f16.decode(code, keepNaNPayload: true)
            }
        case .F8_E4M3: for i in 0..<n { out[i] = MiniFloatFormat.e4m3fn.decode(UInt64(input.load(fromByteOffset: start + i, as: UInt8.self))) }
        case .F8_E5M2: for i in 0..<n { out[i] = MiniFloatFormat.e5m2.decode(UInt64(input.load(fromByteOffset: start + i, as: UInt8.self))) }
        default: preconditionFailure("loadDoubles: \(dtype) is not a convertible float type")
        }
    }

    /// Integer blocks as 64-bit patterns: signed types sign-extended, unsigned zero-extended,
    /// BOOL as 0 or 1 (any nonzero byte is true).
    static func loadIntegers(_ dtype: DType, _ input: UnsafeRawPointer, _ start: Int, _ n: Int, _ out: UnsafeMutablePointer<UInt64>) {
        func load<T: FixedWidthInteger>(_: T.Type) {
            for i in 0..<n {
                let value = input.loadUnaligned(fromByteOffset: (start + i) * MemoryLayout<T>.size, as: T.self)
                out[i] = T.isSigned ? UInt64(bitPattern: Int64(value)) : UInt64(value)
            }
        }
        switch dtype {
        case .BOOL: for i in 0..<n { out[i] = input.load(fromByteOffset: start + i, as: UInt8.self) == 0 ? 0 : 1 }
        case .U8: load(UInt8.self)
        case .U16: load(UInt16.self)
        case .U32: load(UInt32.self)
        case .U64: load(UInt64.self)
        case .I8: load(Int8.self)
        case .I16: load(Int16.self)
        case .I32: load(Int32.self)
        case .I64: load(Int64.self)
        default: preconditionFailure("loadIntegers: \(dtype) is not a convertible integer type")
        }
    }

    // MARK: Narrowing

    static func storeDoubles(_ values: UnsafeMutablePointer<Double>, _ n: Int, _ dtype: DType, _ output: UnsafeMutableRawPointer, _ start: Int, keepNaNPayload: Bool) {
        func store<T>(_ width: Int, _ convert: (Double) -> T) {
            for i in 0..<n { output.storeBytes(of: convert(values[i]), toByteOffset: (start + i) * width, as: T.self) }
        }
        switch dtype {
        case .F64: store(8) { $0 }
        case .F32: store(4) { Float($0) }
        case .F16: store(2) { UInt16(truncatingIfNeeded: MiniFloatFormat.f16.encode($0, keepNaNPayload: keepNaNPayload)) }
        case .BF16: store(2) { UInt16(truncatingIfNeeded: MiniFloatFormat.bf16.encode($0)) }
        case .F8_E4M3: store(1) { UInt8(truncatingIfNeeded: MiniFloatFormat.e4m3fn.encode($0)) }
        case .F8_E5M2: store(1) { UInt8(truncatingIfNeeded: MiniFloatFormat.e5m2.encode($0)) }
        case .BOOL: store(1) { UInt8($0 != 0 ? 1 : 0) }  // NaN != 0: true, as in NumPy
        case .U8: store(1) { UInt8(truncatingIfNeeded: FloatToInteger.unsigned($0, bits: 8)) }
        case .U16: store(2) { UInt16(truncatingIfNeeded: FloatToInteger.unsigned($0, bits: 16)) }
        case .U32: store(4) { UInt32(truncatingIfNeeded: FloatToInteger.unsigned($0, bits: 32)) }
        case .U64: store(8) { FloatToInteger.unsigned($0, bits: 64) }
        case .I8: store(1) { Int8(truncatingIfNeeded: FloatToInteger.signed($0, bits: 8)) }
        case .I16: store(2) { Int16(truncatingIfNeeded: FloatToInteger.signed($0, bits: 16)) }
        case .I32: store(4) { Int32(truncatingIfNeeded: FloatToInteger.signed($0, bits: 32)) }
        case .I64: store(8) { FloatToInteger.signed($0, bits: 64) }
        default: preconditionFailure("storeDoubles: \(dtype) is not a convertible type")
        }
    }

    static func storeIntegers(_ values: UnsafeMutablePointer<UInt64>, signed: Bool, _ n: Int, _ dtype: DType, _ output: UnsafeMutableRawPointer, _ start: Int) {
        func store<T>(_ width: Int, _ convert: (UInt64) -> T) {
            for i in 0..<n { output.storeBytes(of: convert(values[i]), toByteOffset: (start + i) * width, as: T.self) }
        }
        // Narrower integer targets keep the low bits: wrapping modulo 2^bits, as NumPy's astype.
        switch dtype {
        case .BOOL: store(1) { UInt8($0 != 0 ? 1 : 0) }
        case .U8, .I8: store(1) { UInt8(truncatingIfNeeded: $0) }
        case .U16, .I16: store(2) { UInt16(truncatingIfNeeded: $0) }
        case .U32, .I32: store(4) { UInt32(truncatingIfNeeded: $0) }
        case .U64, .I64: store(8) { $0 }
        case .F64: store(8) { signed ? Double(Int64(bitPattern: $0)) : Double($0) }
        case .F32: store(4) { signed ? Float(Int64(bitPattern: $0)) : Float($0) }
        case .F16: store(2) { UInt16(truncatingIfNeeded: MiniFloatFormat.f16.encode(IntegerToFloat.roundedToOdd($0, signed: signed))) }
        case .BF16: store(2) { UInt16(truncatingIfNeeded: MiniFloatFormat.bf16.encode(IntegerToFloat.roundedToOdd($0, signed: signed))) }
        case .F8_E4M3: store(1) { UInt8(truncatingIfNeeded: MiniFloatFormat.e4m3fn.encode(IntegerToFloat.roundedToOdd($0, signed: signed))) }
        case .F8_E5M2: store(1) { UInt8(truncatingIfNeeded: MiniFloatFormat.e5m2.encode(IntegerToFloat.roundedToOdd($0, signed: signed))) }
        default: preconditionFailure("storeIntegers: \(dtype) is not a convertible type")
        }
    }
}

enum FloatToInteger {
    /// Truncation toward zero, as NumPy's astype; NaN -> 0 and out-of-range values saturate
    /// (NumPy's result there is platform-defined).
    @inline(__always)
    static func signed(_ value: Double, bits: Int) -> Int64 {
        if value.isNaN { return 0 }
        let limit = Double(sign: .plus, exponent: bits - 1, significand: 1)  // 2^(bits-1)
        if value >= limit { return bits == 64 ? .max : (1 << Int64(bits - 1)) - 1 }
        if value <= -limit { return bits == 64 ? .min : -(1 << Int64(bits - 1)) }
        return Int64(value.rounded(.towardZero))
    }

    @inline(__always)
    static func unsigned(_ value: Double, bits: Int) -> UInt64 {
        if value.isNaN || value <= 0 { return 0 }
        let limit = Double(sign: .plus, exponent: bits, significand: 1)  // 2^bits
        if value >= limit { return bits == 64 ? .max : (1 << UInt64(bits)) - 1 }
        return UInt64(value.rounded(.towardZero))
    }
}

enum IntegerToFloat {
    /// The integer as a Double rounded to odd: exact below 2^53, otherwise truncated to 53
    /// bits with the lowest bit set when anything was cut. Rounding that Double once more to
    /// a format of at most 51 bits gives the correctly rounded result (no double-rounding
    /// error), which `Double(Int64)` followed by a narrowing would not.
    @inline(__always)
    static func roundedToOdd(_ bits: UInt64, signed: Bool) -> Double {
        let negative = signed && Int64(bitPattern: bits) < 0
        let magnitude = signed ? Int64(bitPattern: bits).magnitude : bits
        var value: Double
        if magnitude < 1 << 53 {
            value = Double(magnitude)
        } else {
            let shift = 11 - magnitude.leadingZeroBitCount
            var kept = magnitude >> UInt64(shift)
            if magnitude & ((1 << UInt64(shift)) - 1) != 0 { kept |= 1 }
            value = Double(kept) * Double(sign: .plus, exponent: shift, significand: 1)
        }
        return negative ? -value : value
    }
}

extension DType {
    var isSignedInteger: Bool {
        switch self {
        case .I8, .I16, .I32, .I64: return true
        default: return false
        }
    }
}
