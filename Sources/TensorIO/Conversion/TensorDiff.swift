// `loft diff`: two checkpoints compared tensor by tensor, streaming like the merge (one
// tensor of each side mapped at a time, decoded to float64 in blocks whose pages are dropped
// once compared).
//
// Agreement is numpy.allclose's rule per element, |a - b| <= atol + rtol * |b| (B is the
// reference), with its defaults atol = 1e-8, rtol = 1e-5: NaN is never close (equal_nan is
// false), an infinity is close only to the same infinity. Two checkpoints agree when they
// have the same tensor names, dtypes and shapes and every element is close.


public struct TensorComparison: Sendable, Equatable {
    public var name: String
    public var dtypeA: DType
    public var dtypeB: DType
    public var shapeA: [Int]
    public var shapeB: [Int]
    /// Largest |a - b| over pairs of finite values (0 if there are none).
    public var maxAbsolute: Double = 0
    /// Largest |a - b| / |b| over finite pairs (infinite where b = 0 and a is not).
    public var maxRelative: Double = 0
    /// Elements outside the tolerance (NaN and mismatched infinities included).
    public var notClose: Int = 0
    public var compared: Bool = true

    public var shapeMatches: Bool { shapeA == shapeB }
    public var dtypeMatches: Bool { dtypeA == dtypeB }
    public var agrees: Bool { shapeMatches && dtypeMatches && compared && notClose == 0 }
}

public struct DiffReport: Sendable {
    public var a: String
    public var b: String
    public var atol: Double
    public var rtol: Double
    /// Tensors present in both, in A's order.
    public var tensors: [TensorComparison]
    /// In B only (missing from A).
    public var missing: [String]
    /// In A only (extra relative to B).
    public var extra: [String]

    public var agrees: Bool { missing.isEmpty && extra.isEmpty && tensors.allSatisfy(\.agrees) }
}

public enum TensorDiff {
    static let blockElements = 1 << 20

    /// `key`: where the state dict is in PyTorch checkpoints among the two (`--key`).
    public static func compare(_ pathA: String, _ pathB: String, atol: Double = 1e-8, rtol: Double = 1e-5, key: String? = nil) throws -> DiffReport {
        let a = try ModelSource.open(pathA, key: TensorFile.acceptsKey(pathA) ? key : nil).reader
        let b = try ModelSource.open(pathB, key: TensorFile.acceptsKey(pathB) ? key : nil).reader
        var inB: [String: TensorInfo] = [:]
        for tensor in b.tensors { inB[tensor.name] = tensor }
        let namesA = Set(a.tensors.map(\.name))
        var report = DiffReport(a: pathA, b: pathB, atol: atol, rtol: rtol, tensors: [],
                                missing: b.tensors.map(\.name).filter { !namesA.contains($0) },
                                extra: a.tensors.map(\.name).filter { inB[$0] == nil })
        for infoA in a.tensors {
            guard let infoB = inB[infoA.name] else { continue }
            var comparison = TensorComparison(name: infoA.name, dtypeA: infoA.dtype, dtypeB: infoB.dtype, shapeA: infoA.shape, shapeB: infoB.shape)
            if comparison.shapeMatches {
                try compareValues(try a.data(for: infoA.name), try b.data(for: infoB.name), atol: atol, rtol: rtol, into: &comparison)
                a.release(infoA.name)
                b.release(infoB.name)
            } else {
                comparison.compared = false
            }
            report.tensors.append(comparison)
        }
        return report
    }

    static func compareValues(_ a: TensorData, _ b: TensorData, atol: Double, rtol: Double, into result: inout TensorComparison) throws {
        let count = a.info.elementCount
        guard let widthA = a.info.dtype.byteWidth, let widthB = b.info.dtype.byteWidth,
              DTypeConversion.canConvert(from: a.info.dtype, to: .F64), DTypeConversion.canConvert(from: b.info.dtype, to: .F64)
        else {
            // No numeric view (packed or complex types): only byte equality can be said.
            result.compared = a.info.dtype == b.info.dtype
            result.notClose = a.bytes.elementsEqual(b.bytes) ? 0 : 1
            return
        }
        let block = min(max(count, 1), blockElements)
        let bufferA = UnsafeMutableBufferPointer<Double>.allocate(capacity: block)
        let bufferB = UnsafeMutableBufferPointer<Double>.allocate(capacity: block)
        defer { bufferA.deallocate(); bufferB.deallocate() }
        var start = 0
        while start < count {
            let n = min(block, count - start)
            let sliceA = UnsafeRawBufferPointer(rebasing: a.bytes[start * widthA ..< (start + n) * widthA])
            let sliceB = UnsafeRawBufferPointer(rebasing: b.bytes[start * widthB ..< (start + n) * widthB])
            try HalfWidening.widen(a.info.dtype, from: sliceA, into: UnsafeMutableBufferPointer(rebasing: bufferA[0..<n]))
            try HalfWidening.widen(b.info.dtype, from: sliceB, into: UnsafeMutableBufferPointer(rebasing: bufferB[0..<n]))
            a.releaseMappedPages(sliceA)
            b.releaseMappedPages(sliceB)
            var maxAbs = result.maxAbsolute, maxRel = result.maxRelative, notClose = result.notClose
            for i in 0..<n {
                let x = bufferA[i], y = bufferB[i]
                if x.isFinite && y.isFinite {
                    let difference = abs(x - y)
                    if difference > maxAbs { maxAbs = difference }
                    let relative = y == 0 ? (difference == 0 ? 0 : Double.infinity) : difference / abs(y)
                    if relative > maxRel { maxRel = relative }
                    if !(difference <= atol + rtol * abs(y)) { notClose += 1 }
                } else if !(x == y) {
                    notClose += 1  // NaN anywhere, or an infinity against anything else
                }
            }
            result.maxAbsolute = maxAbs
            result.maxRelative = maxRel
            result.notClose = notClose
            start += n
        }
    }
}
