import Foundation
import Testing
@testable import TensorIO

/// The narrowing float conversions against a reference written from the IEEE 754 definition
/// (round to the nearest representable value, ties to the even code; a value that rounds
/// past the largest finite one overflows), over a stride of all 2^32 float32 bit patterns.
/// The representable values come from `value(code:)`, which builds them with `pow`, not from
/// loft's bit manipulation.
@Suite struct ConversionReferenceTests {
    struct Format {
        var dtype: DType
        var exponentBits: Int
        var mantissaBits: Int
        var hasInfinity: Bool
        var bias: Int { (1 << (exponentBits - 1)) - 1 }
        /// First code past the finite values: Inf, or for F8_E4M3 the NaN code 0x7F, whose
        /// "value" 480 is where rounding to nearest would go next.
        var overflowCode: Int { hasInfinity ? ((1 << exponentBits) - 1) << mantissaBits : (1 << (exponentBits + mantissaBits)) - 1 }
        var overflowResult: Int { hasInfinity ? overflowCode : (1 << (exponentBits + mantissaBits)) - 1 }

        func value(code: Int) -> Double {
            let exponent = code >> mantissaBits
            let mantissa = Double(code & ((1 << mantissaBits) - 1))
            let scale = pow(2.0, Double(mantissaBits))
            if exponent == 0 { return mantissa / scale * pow(2.0, Double(1 - bias)) }
            return (1 + mantissa / scale) * pow(2.0, Double(exponent - bias))
        }

        /// The code of `x` (finite) by the definition.
        func reference(_ x: Double) -> Int {
            let signBit = x.sign == .minus ? 1 << (exponentBits + mantissaBits) : 0
            let magnitude = abs(x)
            var low = 0, high = overflowCode  // invariant: value(low) <= magnitude
            if magnitude >= value(code: high) { return signBit | overflowResult }
            while high - low > 1 {
                let middle = (low + high) / 2
                if value(code: middle) <= magnitude { low = middle } else { high = middle }
            }
            let below = magnitude - value(code: low), above = value(code: high) - magnitude
            let code = below < above ? low : above < below ? high : (low % 2 == 0 ? low : high)
            return signBit | (code == overflowCode ? overflowResult : code)
        }
    }

    static let formats = [
        Format(dtype: .F16, exponentBits: 5, mantissaBits: 10, hasInfinity: true),
        Format(dtype: .BF16, exponentBits: 8, mantissaBits: 7, hasInfinity: true),
        Format(dtype: .F8_E4M3, exponentBits: 4, mantissaBits: 3, hasInfinity: false),
        Format(dtype: .F8_E5M2, exponentBits: 5, mantissaBits: 2, hasInfinity: true),
    ]

    /// Every 8191st float32 bit pattern (about half a million, all exponents and both signs),
    /// plus its neighbours, NaNs left to the fixtures.
    static let samples: [UInt32] = {
        var patterns: [UInt32] = []
        var bits: UInt64 = 0
        while bits < 1 << 32 {
            for neighbour in [bits, bits + 1] where neighbour < 1 << 32 {
                let p = UInt32(neighbour)
                if p & 0x7F80_0000 != 0x7F80_0000 || p & 0x007F_FFFF == 0 { patterns.append(p) }
            }
            bits += 8191
        }
        return patterns
    }()

    @Test(arguments: formats.map(\.dtype))
    func float32NarrowingIsNearestEven(_ dtype: DType) throws {
        let format = Self.formats.first { $0.dtype == dtype }!
        let width = dtype.byteWidth!
        var output = [UInt8](repeating: 0, count: Self.samples.count * width)
        try Self.samples.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { destination in
                try DTypeConversion.convert(from: .F32, source: source, to: dtype, destination: destination, count: Self.samples.count)
            }
        }
        var failures: [String] = []
        for (i, pattern) in Self.samples.enumerated() {
            let x = Double(Float(bitPattern: pattern))
            let expected = x.isInfinite
                ? (x < 0 ? 1 << (format.exponentBits + format.mantissaBits) : 0) | format.overflowResult
                : format.reference(x)
            let got = width == 2 ? Int(output[2 * i]) | Int(output[2 * i + 1]) << 8 : Int(output[i])
            if got != expected && failures.count < 8 {
                failures.append(String(format: "0x%08x (%g): loft 0x%x, reference 0x%x", pattern, x, got, expected))
            }
        }
        #expect(failures.isEmpty, "\(dtype): \(failures.joined(separator: "; "))")
    }

    /// F16 -> F32 -> F16 gives back all 65536 patterns, NaN payloads included (NumPy keeps them).
    @Test func everyFloat16PatternSurvivesARoundTrip() throws {
        let codes = (0...UInt16.max).map { $0 }
        let wide = try convert(codes, from: .F16, to: .F32, as: UInt32.self)
        let back = try convert(wide, from: .F32, to: .F16, as: UInt16.self)
        #expect(back == codes)
    }

    /// BF16 -> F32 is the 16-bit shift; back is exact except that a NaN becomes the quiet NaN.
    @Test func everyBFloat16PatternWidensByShiftAndComesBack() throws {
        let codes = (0...UInt16.max).map { $0 }
        let wide = try convert(codes, from: .BF16, to: .F32, as: UInt32.self)
        #expect(wide == codes.map { UInt32($0) << 16 })
        let back = try convert(wide, from: .F32, to: .BF16, as: UInt16.self)
        let expected = codes.map { $0 & 0x7FFF > 0x7F80 ? ($0 & 0x8000) | 0x7FC0 : $0 }
        #expect(back == expected)
    }

    /// The vectorised F32 -> F16/BF16 loops and the generic encoder from Double (used for
    /// F64, F16 and integer sources) are separate implementations; they agree on every
    /// sampled pattern, NaNs included (the float32 NaN widened bit for bit: NumPy keeps its
    /// payload bits).
    @Test(arguments: [DType.F16, .BF16, .F8_E4M3, .F8_E5M2])
    func vectorisedLoopAgreesWithGenericEncoder(_ dtype: DType) throws {
        var patterns = Self.samples
        patterns += [0x7F80_0001, 0xFF80_0001, 0x7FC0_0000, 0x7FFF_FFFF, 0x7F80_2000, 0xFFC1_2345]
        let fast = dtype.byteWidth == 2
            ? try convert(patterns, from: .F32, to: dtype, as: UInt16.self)
            : try convert(patterns, from: .F32, to: dtype, as: UInt8.self).map(UInt16.init)
        let format: MiniFloatFormat = [.F16: .f16, .BF16: .bf16, .F8_E4M3: .e4m3fn, .F8_E5M2: .e5m2][dtype]!
        let generic = patterns.map { bits -> UInt16 in
            let sign = UInt64(bits >> 31) << 63
            let magnitude = UInt64(bits & 0x7FFF_FFFF)
            let wide = magnitude >= 0x7F80_0000  // Inf/NaN: exponent all ones, payload moved up
                ? sign | 0x7FF0_0000_0000_0000 | (magnitude & 0x7F_FFFF) << 29
                : Double(Float(bitPattern: bits)).bitPattern
            return UInt16(format.encode(Double(bitPattern: wide), keepNaNPayload: dtype == .F16))
        }
        let differing = zip(patterns, zip(fast, generic)).filter { $1.0 != $1.1 }.prefix(5)
        #expect(differing.isEmpty, "\(differing.map { String(format: "0x%08x: 0x%04x vs 0x%04x", $0.0, $0.1.0, $0.1.1) })")
    }

    /// A buffer at an odd address converts to the same bytes as an aligned one.
    @Test(arguments: [DType.F16, .BF16, .F64, .I32, .F8_E5M2])
    func unalignedBuffersConvertTheSame(_ dtype: DType) throws {
        let patterns = Array(Self.samples.prefix(200_000)) + [0x7F80_0001, 0xFF80_0001, 0x7FC0_0000]
        let width = dtype.byteWidth!
        var aligned = [UInt8](repeating: 0, count: patterns.count * width)
        try patterns.withUnsafeBytes { source in
            try aligned.withUnsafeMutableBytes { try DTypeConversion.convert(from: .F32, source: source, to: dtype, destination: $0, count: patterns.count) }
        }
        var shifted = [UInt8](repeating: 0, count: patterns.count * 4 + 1)
        patterns.withUnsafeBytes { source in
            shifted.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: 1).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        }
        var unaligned = [UInt8](repeating: 0, count: patterns.count * width + 1)
        try shifted.withUnsafeBytes { source in
            try unaligned.withUnsafeMutableBytes { destination in
                try DTypeConversion.convert(from: .F32, source: UnsafeRawBufferPointer(rebasing: source[1...]), to: dtype,
                                            destination: UnsafeMutableRawBufferPointer(rebasing: destination[1...]), count: patterns.count)
            }
        }
        #expect(Array(unaligned[1...]) == aligned)
    }
}

/// Converts an array of raw elements with the raw-buffer API.
func convert<Source, Target: FixedWidthInteger>(_ values: [Source], from: DType, to: DType, as: Target.Type) throws -> [Target] {
    var output = [Target](repeating: 0, count: values.count)
    try values.withUnsafeBytes { source in
        try output.withUnsafeMutableBytes { destination in
            try DTypeConversion.convert(from: from, source: source, to: to, destination: destination, count: values.count)
        }
    }
    return output
}

/// Large tensors of 8- and 16-bit types convert by a table of every bit pattern; small ones
/// element by element. Both give the same bytes for every pattern, to every target.
@Suite struct ConversionLookupTests {
    static let sources: [DType] = [.BOOL, .U8, .I8, .F8_E4M3, .F8_E5M2, .U16, .I16, .F16, .BF16]

    @Test(arguments: sources)
    func tablePathMatchesElementPath(_ source: DType) throws {
        let width = source.byteWidth!
        let patterns = 1 << (8 * width)
        var allCodes = [UInt8](repeating: 0, count: patterns * width)
        for code in 0..<patterns {
            allCodes[code * width] = UInt8(code & 0xFF)
            if width == 2 { allCodes[code * width + 1] = UInt8(code >> 8) }
        }
        // Tiled past the table threshold, in a shuffled order so neighbours differ.
        let count = max(patterns * 5, 1 << 18)
        let order = (0..<count).map { ($0 &* 40503 &+ 17) % patterns }
        var codes = [UInt8](repeating: 0, count: count * width)
        for (i, code) in order.enumerated() {
            codes[i * width] = allCodes[code * width]
            if width == 2 { codes[i * width + 1] = allCodes[code * width + 1] }
        }
        // 16-bit sources: one target of each kind and width (each takes a 65536-entry table).
        let targets = width == 1 ? DType.valueTypes : [.BOOL, .I8, .U32, .I64, .F16, .BF16, .F64, .F8_E4M3, .F8_E5M2]
        for target in targets where target != source {
            let outWidth = target.byteWidth!
            var whole = [UInt8](repeating: 0, count: count * outWidth)
            try codes.withUnsafeBytes { input in
                try whole.withUnsafeMutableBytes { try DTypeConversion.convert(from: source, source: input, to: target, destination: $0, count: count) }
            }
            // Each pattern once, in pieces below every table threshold.
            var expected = [UInt8](repeating: 0, count: patterns * outWidth)
            let piece = 200
            try allCodes.withUnsafeBytes { input in
                try expected.withUnsafeMutableBytes { output in
                    for start in stride(from: 0, to: patterns, by: piece) {
                        let n = min(piece, patterns - start)
                        try DTypeConversion.convert(
                            from: source, source: UnsafeRawBufferPointer(rebasing: input[(start * width)..<((start + n) * width)]),
                            to: target, destination: UnsafeMutableRawBufferPointer(rebasing: output[(start * outWidth)..<((start + n) * outWidth)]),
                            count: n)
                    }
                }
            }
            let wrong = whole.withUnsafeBytes { got in
                expected.withUnsafeBytes { want in
                    order.indices.first { memcmp(got.baseAddress! + $0 * outWidth, want.baseAddress! + order[$0] * outWidth, outWidth) != 0 }
                }
            }
            #expect(wrong == nil, "\(source) -> \(target): element \(wrong ?? 0) (pattern \(order[wrong ?? 0]))")
        }
    }
}
