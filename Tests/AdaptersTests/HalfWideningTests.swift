// The merge's own float64 <-> half loops give exactly what DTypeConversion gives (the
// reference-checked conversions of TensorIO), on edge cases and random bit patterns.

import Testing
@testable import TensorIO
@testable import Adapters

@Suite struct HalfWideningTests {
    static func samples() -> [Double] {
        var values: [Double] = [0, -0.0, 1, -1, .infinity, -.infinity, 65504, 65519.99, 65520, -65520, 6e-8, 3e-8, 2.9e-8,
                                0x1p-126, 0x1p-133, 0x1p-134, 0x1.FEp127, 0x1.FEFFFFFFp127, 0x1.FF0p127, 0x1.FFp127, 1e39, -1e39,
                                1 + 0x1p-8, 1 + 0x1p-8 + 0x1p-40, 1 + 0x1p-8 - 0x1p-40, 1 + 3 * 0x1p-8, 1 + 0x1p-11, 1 + 0x1p-11 + 0x1p-45,
                                // Just off bf16 ties, closer than float32 can tell apart.
                                1 + 0x1p-8 + 0x1p-32, 1 + 0x1p-8 - 0x1p-32]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let bits = generator.next() as UInt64
            let x = Double(bitPattern: bits)
            if x.isFinite && abs(x) < 1e40 && abs(x) > 1e-45 { values.append(x) }
            values.append(Double(Float.random(in: -4...4)) + Double.random(in: -0x1p-20...0x1p-20))
        }
        return values
    }

    @Test(arguments: [DType.BF16, .F16])
    func narrowingMatchesDTypeConversion(type: DType) throws {
        let values = Self.samples()
        var fast = [UInt16](repeating: 0, count: values.count)
        var reference = [UInt16](repeating: 0, count: values.count)
        try values.withUnsafeBufferPointer { source in
            try fast.withUnsafeMutableBytes { try HalfWidening.narrow(source, to: type, into: $0) }
            try reference.withUnsafeMutableBytes { try DTypeConversion.convert(from: .F64, source: UnsafeRawBufferPointer(source), to: type, destination: $0, count: values.count) }
        }
        for i in values.indices where fast[i] != reference[i] {
            Issue.record("\(type) of \(values[i]) (\(String(values[i].bitPattern, radix: 16))): \(String(fast[i], radix: 16)) vs DTypeConversion \(String(reference[i], radix: 16))")
            break
        }
    }

    @Test(arguments: [DType.BF16, .F16])
    func wideningIsExact(type: DType) throws {
        let all = (0...UInt16.max).map { $0 }
        var fast = [Double](repeating: 0, count: all.count)
        var reference = [Double](repeating: 0, count: all.count)
        try all.withUnsafeBytes { source in
            try fast.withUnsafeMutableBufferPointer { try HalfWidening.widen(type, from: source, into: $0) }
            try reference.withUnsafeMutableBytes { try DTypeConversion.convert(from: type, source: source, to: .F64, destination: $0, count: all.count) }
        }
        #expect(zip(fast, reference).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) })
    }

    @Test func bf16RoundsOnceFromDouble() {
        // 1 + 2^-8 is a tie between bf16 1 and 1 + 2^-7: a hair above must round up, even
        // though float32 rounding of it alone (1 + 2^-8 exactly) would then tie to even (down).
        #expect(HalfWidening.bf16Bits(1 + 0x1p-8 + 0x1p-40) == 0x3F81)
        #expect(HalfWidening.bf16Bits(1 + 0x1p-8) == 0x3F80)
        #expect(HalfWidening.bf16Bits(1 + 0x1p-8 - 0x1p-40) == 0x3F80)
        #expect(HalfWidening.bf16Bits(1e39) == 0x7F80)
    }
}
