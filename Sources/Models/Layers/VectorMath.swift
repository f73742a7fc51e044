// exp and tanh on eight floats at a time. The C library's expf/tanhf are scalar calls:
// in a GPT-2 step the softmax over 50257 logits and the GELU over N x 3072 values spent
// more time in them than in the products around them.
//
// exp: Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for e^r, the
// power of two built in the exponent bits. Relative error about 2 ulp on [-87, 88]; inputs
// are clamped there (below: ~1e-38, the softmax's "zero"; above: would overflow anyway).
// tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|): absolute error ~1e-7, which is
// what GELU's 0.5 x (1 + tanh(...)) needs.

typealias Float8 = SIMD8<Float>

@inline(__always)
func exp8(_ input: Float8) -> Float8 {
    // (pointwiseMin/Max and clamped are not inlined by the compiler: select by mask instead.)
    let low = Float8(repeating: -87.3), high = Float8(repeating: 88.3)
    var x = input.replacing(with: low, where: input .< low)
    x.replace(with: high, where: x .> high)
    // Round x / ln2 to the nearest integer with the 1.5 · 2^23 trick: the integer lands in the
    // low mantissa bits of `shifted`, ready to become an exponent.
    let magic = Float8(repeating: 12582912)
    let shifted = x * 1.44269504088896341 + magic
    let n = shifted - magic
    var r = x - n * 0.693359375
    r = r + n * 2.12194440e-4
    let r2 = r * r
    var p = Float8(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let er = p * r2 + r + 1
    let bits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127
    return er * unsafeBitCast(bits &<< 23, to: Float8.self)
}

@inline(__always)
func tanh8(_ x: Float8) -> Float8 {
    let magnitudeOfX = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Float8.self)
    let e = exp8(-2 * magnitudeOfX)
    let magnitude = (1 - e) / (1 + e)
    return magnitude.replacing(with: -magnitude, where: x .< 0)
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> Float8 { UnsafeRawPointer(p).loadUnaligned(as: Float8.self) }

@inline(__always)
func store8(_ v: Float8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Float8.self) }

/// Applies `body` to x[range] (and y[range] when given) eight at a time; the tail goes
/// through a zero-padded vector.
@inline(__always)
func forEachVector(_ range: Range<Int>, _ body: (Int, Int) -> Void) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound { body(i, 8); i += 8 }
    if i < range.upperBound { body(i, range.upperBound - i) }
}

@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, padding: Float = 0) -> Float8 {
    if count == 8 { return load8(p) }
    var v = Float8(repeating: padding)
    for lane in 0..<count { v[lane] = p[lane] }
    return v
}

@inline(__always)
func storePartial(_ v: Float8, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count == 8 { store8(v, p); return }
    for lane in 0..<count { p[lane] = v[lane] }
}

/// p[j] = exp(p[j] - shift) for j < count; returns the sum (eight partial sums, then added).
func exponentiateInPlace(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
    var sums = Float8()
    forEachVector(0..<count) { i, lanes in
        var e = exp8(loadPartial(p + i, lanes, padding: -Float.infinity) - shift)
        if lanes < 8 { for lane in lanes..<8 { e[lane] = 0 } }
        storePartial(e, p + i, lanes)
        sums += e
    }
    return sums.sum()
}

/// max of p[0..<count].
func maximum(_ p: UnsafePointer<Float>, count: Int) -> Float {
    var m = Float8(repeating: -.infinity)
    forEachVector(0..<count) { i, lanes in
        let v = loadPartial(p + i, lanes, padding: -.infinity)
        m.replace(with: v, where: v .> m)
    }
    return m.max()
}
