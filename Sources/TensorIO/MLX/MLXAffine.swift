// MLX's affine quantization of one row, as mlx's CPU kernel does it (mx.quantize /
// mx.dequantize, mode "affine"), so loft's bytes equal mlx-lm's:
//
//   - a row is cut into groups of `groupSize` consecutive values; each group has a scale and
//     a bias (stored in the weight's own float type) and every value becomes an integer
//     q in 0...2^bits-1, the value being scale * q + bias;
//   - the integers are a little-endian bit stream: value j of the row occupies bits
//     j*bits ..< (j+1)*bits, which for 2, 4 and 8 bits is uint32 words filled from the low
//     bits up, and for 3, 5 and 6 bits the byte packing mlx uses (8 or 4 values per 3 or 5
//     bytes); the row's stream is then read as uint32 words;
//   - the quantizer works in float32: scale = (max - min) / (2^bits - 1) (at least 1e-7),
//     signed so that the group's edge of larger magnitude (min or max) becomes exactly
//     representable: q0 = rint(edge / scale), and when q0 != 0 the scale is edge / q0 and the
//     bias the edge, else the bias is 0; q = clamp(rint((x - bias) / scale)), ties to even.
//     A constant group thus gets scale 1e-7 (or edge / q0) and dequantizes to itself.
//   - dequantization rounds like mlx's half types: T(T(scale * q) + bias) for T the scales'
//     type (each operation in float32, rounded to T).

public struct MLXAffine: Sendable, Hashable {
    public let bits: Int
    public let groupSize: Int

    /// The widths mlx's affine mode accepts.
    public static let supportedBits = [1, 2, 3, 4, 5, 6, 8]
    /// The group sizes mlx's kernels are built for (loft reads any size whose shapes agree).
    public static let writableGroupSizes = [32, 64, 128]
    /// The float types scales, biases and the dequantized weight are stored in.
    public static let floatTypes: [DType] = [.F32, .F16, .BF16]

    public init(bits: Int, groupSize: Int) {
        self.bits = bits
        self.groupSize = groupSize
    }

    /// uint32 words holding a row of `count` values, or nil when they do not fill whole words.
    public func packedWords(rowLength count: Int) -> Int? {
        let (bitsTotal, overflow) = count.multipliedReportingOverflow(by: bits)
        return overflow || bitsTotal % 32 != 0 ? nil : bitsTotal / 32
    }

    /// Dequantizes one row: `packed` holds the row's bit stream (whole uint32 words),
    /// `scales`/`biases` one value per group (as float32, widened exactly from T); `type` is T,
    /// which the products and sums are rounded to.
    @inline(__always)
    func dequantizeRow(packed: UnsafeRawBufferPointer, scales: UnsafeBufferPointer<Float>, biases: UnsafeBufferPointer<Float>,
                       into out: UnsafeMutableBufferPointer<Float>, type: DType) {
        switch type {
        case .F16: dequantizeRow(packed, scales, biases, out, round: MLXAffine.roundToHalf)
        case .BF16: dequantizeRow(packed, scales, biases, out) { Float(bitPattern: UInt32(GGMLCodec.bfloat16($0)) << 16) }
        default: dequantizeRow(packed, scales, biases, out) { $0 }
        }
    }

    /// `Float(Float16(x))`, without the library call where float16 is normal and below 2^15
    /// (the float32 mantissa rounded to 10 bits, to nearest even, by integer arithmetic); the
    /// rest (subnormal, overflowing, NaN) through Float16 itself.
    @inline(__always)
    static func roundToHalf(_ x: Float) -> Float {
        let bits = x.bitPattern
        let exponent = (bits >> 23) & 0xFF
        guard exponent >= 113, exponent < 142 else { return Float(Float16(x)) }
        return Float(bitPattern: (bits &+ 0xFFF &+ ((bits >> 13) & 1)) & ~UInt32(0x1FFF))
    }

    /// The loop, specialised for each rounding: codes are taken from a 64-bit window refilled
    /// one little-endian uint32 word at a time.
    @inline(__always)
    private func dequantizeRow(_ packed: UnsafeRawBufferPointer, _ scales: UnsafeBufferPointer<Float>, _ biases: UnsafeBufferPointer<Float>,
                               _ out: UnsafeMutableBufferPointer<Float>, round: (Float) -> Float) {
        let mask = UInt64((1 << bits) - 1)
        let width = UInt64(bits)
        var window: UInt64 = 0
        var available: UInt64 = 0
        var word = 0
        for group in 0..<scales.count {
            let scale = scales[group], bias = biases[group]
            let start = group * groupSize
            for j in start..<(start + groupSize) {
                if available < width {
                    window |= UInt64(UInt32(littleEndian: packed.loadUnaligned(fromByteOffset: 4 * word, as: UInt32.self))) << available
                    available += 32
                    word += 1
                }
                let q = Float(window & mask)
                window >>= width
                available -= width
                out[j] = round(round(scale * q) + bias)
            }
        }
    }

    /// The smallest and largest of `count` values without NaN, in a loop the compiler
    /// vectorises: floats compared as integers whose order is theirs (a negative value's
    /// magnitude bits flipped). NaN for both when a NaN is among them (then the caller runs
    /// mlx's own comparisons). -0 and +0 may come out either way round: as a group's edge
    /// neither moves the scale or the bias.
    @inline(__always) static func range(_ values: UnsafePointer<Float>, _ count: Int) -> (low: Float, high: Float) {
        var lowKey = Int32.max, highKey = Int32.min
        var magnitude: UInt32 = 0
        for j in 0..<count {
            let bits = values[j].bitPattern
            let key = Int32(bitPattern: bits ^ (UInt32(bitPattern: Int32(bitPattern: bits) &>> 31) & 0x7FFF_FFFF))
            lowKey = Swift.min(lowKey, key)
            highKey = Swift.max(highKey, key)
            magnitude = Swift.max(magnitude, bits & 0x7FFF_FFFF)
        }
        if magnitude > 0x7F80_0000 { return (.nan, .nan) }
        func value(_ key: Int32) -> Float {
            Float(bitPattern: UInt32(bitPattern: key < 0 ? key ^ 0x7FFF_FFFF : key))
        }
        return (value(lowKey), value(highKey))
    }

    /// Quantizes one row of `values` (already widened from T to float32): writes the bit
    /// stream to `packed` (whole uint32 words; nil: only the scales and biases are wanted) and
    /// each group's scale and bias as float32 (the caller narrows them to T).
    @inline(__always)
    func quantizeRow(_ values: UnsafeBufferPointer<Float>, packed: UnsafeMutableRawBufferPointer?,
                     scales: UnsafeMutableBufferPointer<Float>, biases: UnsafeMutableBufferPointer<Float>) {
        let levels = Float((1 << bits) - 1)
        let eps: Float = 1e-7
        // Codes enter a 64-bit window from the top of what it holds; each full uint32 word is
        // stored little-endian (a row's bit count is a multiple of 32).
        let width = UInt64(bits)
        var window: UInt64 = 0
        var filled: UInt64 = 0
        var word = 0
        let codesPerWord = 32 % bits == 0 ? 32 / bits : 0
        let codes = UnsafeMutablePointer<UInt32>.allocate(capacity: groupSize)
        defer { codes.deallocate() }
        for group in 0..<(values.count / groupSize) {
            let start = group * groupSize
            let groupValues = values.baseAddress! + start
            var (low, high) = MLXAffine.range(groupValues, groupSize)
            if low.isNaN {
                low = .infinity
                high = -.infinity
                for j in 0..<groupSize {
                    // std::max/min as mlx calls them: a NaN is skipped unless it comes first.
                    high = high < groupValues[j] ? groupValues[j] : high
                    low = groupValues[j] < low ? groupValues[j] : low
                }
            }
            var scale: Float
            var bias: Float
            if bits == 1 {
                scale = Swift.max(high - low, eps)
                bias = low
            } else {
                let lowEdge = abs(low) > abs(high)
                scale = Swift.max((high - low) / levels, eps)
                if !lowEdge { scale = -scale }
                let edge = lowEdge ? low : high
                let q0 = (edge / scale).rounded(.toNearestOrEven)
                bias = 0
                if q0 != 0 {
                    scale = edge / q0
                    bias = edge
                }
            }
            scales[group] = scale
            biases[group] = bias
            guard let packed else { continue }  // the scales and biases only
            // The codes first, in a loop the compiler vectorises: mlx's
            // clamp(round((x - bias) / scale), 0, levels) with NaN as 0, rounded to nearest
            // even by adding and taking away 1.5 * 2^23 (exact below 2^22; the value is
            // clamped to -1 ... levels + 1 before, which leaves the clamped result as it was).
            // Plain pointer indexing: a checked `start + j` per element keeps the loop scalar.
            for j in 0..<groupSize {
                let x = (groupValues[j] - bias) / scale
                let clamped = x > -1 ? (x < levels + 1 ? x : levels + 1) : -1
                let nearest = (clamped + 12_582_912) - 12_582_912
                let q = nearest < 0 ? 0 : (nearest > levels ? levels : nearest)
                codes[j] = (q + 8_388_608).bitPattern &- 0x4B00_0000
            }
            if codesPerWord > 0 {
                // Widths that divide 32: each word holds whole codes, the first in the low bits.
                for w in 0..<(groupSize / codesPerWord) {
                    var packedWord: UInt32 = 0
                    let wordCodes = codes + w &* codesPerWord
                    for k in 0..<codesPerWord { packedWord |= wordCodes[k] &<< UInt32(truncatingIfNeeded: k &* bits) }
                    packed.storeBytes(of: packedWord.littleEndian, toByteOffset: 4 * word, as: UInt32.self)
                    word += 1
                }
                continue
            }
            for j in 0..<groupSize {
                window |= UInt64(codes[j]) << filled
                filled += width
                if filled >= 32 {
                    packed.storeBytes(of: UInt32(truncatingIfNeeded: window).littleEndian, toByteOffset: 4 * word, as: UInt32.self)
                    word += 1
                    window >>= 32
                    filled -= 32
                }
            }
        }
    }
}
