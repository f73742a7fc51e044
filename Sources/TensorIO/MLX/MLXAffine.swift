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

    /// Dequantizes one row: `packed` holds the row's bit stream, `scales`/`biases` one value per
    /// group (as float32, widened exactly from T), `round` rounds a float32 to T and back.
    @inline(__always)
    func dequantizeRow(packed: UnsafeRawBufferPointer, scales: UnsafeBufferPointer<Float>, biases: UnsafeBufferPointer<Float>,
                       into out: UnsafeMutableBufferPointer<Float>, round: (Float) -> Float) {
        let mask = UInt32((1 << bits) - 1)
        let bytes = packed.bindMemory(to: UInt8.self)
        for group in 0..<scales.count {
            let scale = scales[group], bias = biases[group]
            let start = group * groupSize
            for j in start..<(start + groupSize) {
                let bit = j * bits
                let byte = bit >> 3
                var word = UInt32(bytes[byte])
                if (bit & 7) + bits > 8 { word |= UInt32(bytes[byte + 1]) << 8 }
                let q = Float((word >> UInt32(bit & 7)) & mask)
                out[j] = round(round(scale * q) + bias)
            }
        }
    }

    /// Quantizes one row of `values` (already widened from T to float32): writes the bit
    /// stream to `packed` (zeroed by the caller) and each group's scale and bias as float32
    /// (the caller narrows them to T).
    @inline(__always)
    func quantizeRow(_ values: UnsafeBufferPointer<Float>, packed: UnsafeMutableRawBufferPointer,
                     scales: UnsafeMutableBufferPointer<Float>, biases: UnsafeMutableBufferPointer<Float>) {
        let levels = Float((1 << bits) - 1)
        let eps: Float = 1e-7
        let bytes = packed.bindMemory(to: UInt8.self)
        for group in 0..<(values.count / groupSize) {
            let start = group * groupSize
            var low = Float.infinity, high = -Float.infinity
            for j in start..<(start + groupSize) {
                // std::max/min as mlx calls them: a NaN is skipped unless it comes first.
                high = high < values[j] ? values[j] : high
                low = values[j] < low ? values[j] : low
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
            for j in start..<(start + groupSize) {
                let q = Swift.min(Swift.max(((values[j] - bias) / scale).rounded(.toNearestOrEven), 0), levels)
                let code = UInt32(q.isNaN ? 0 : q)
                let bit = j * bits
                let byte = bit >> 3
                let shifted = code << UInt32(bit & 7)
                bytes[byte] |= UInt8(truncatingIfNeeded: shifted)
                if (bit & 7) + bits > 8 { bytes[byte + 1] |= UInt8(truncatingIfNeeded: shifted >> 8) }
            }
            scales[group] = scale
            biases[group] = bias
        }
    }
}
