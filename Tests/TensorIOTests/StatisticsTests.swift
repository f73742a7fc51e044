import Foundation
import Testing
@testable import TensorIO

/// TensorStatistics against NumPy (fixtures/dtypes/statistics.json: nanmin, nanmax, mean and
/// std over the finite values, computed in float64) and against closed forms.
@Suite struct StatisticsTests {
    func tensor(_ bytes: [UInt8], _ dtype: DType, _ count: Int) -> TensorData {
        let buffer = ByteBuffer(count: bytes.count)
        buffer.bytes.copyBytes(from: bytes)
        return TensorData(info: TensorInfo(name: "t", dtype: dtype, shape: [count]), buffer: buffer)
    }

    func close(_ a: Double, _ b: Double, relative: Double = 1e-12) -> Bool {
        a == b || abs(a - b) <= relative * max(abs(a), abs(b))
    }

    @Test func matchesNumPyForEveryValueDtype() throws {
        let entries = try #require(try DTypeFixtures.json("statistics.json").arrayValue)
        #expect(entries.count >= 15)
        var dtypesSeen = Set<DType>()
        for entry in entries {
            let name = entry["name"]?.stringValue ?? "?"
            let dtype = try #require(entry["dtype"]?.stringValue.flatMap(DType.init(rawValue:)))
            dtypesSeen.insert(dtype)
            let count = try #require(entry["count"]?.intValue)
            let stats = TensorStatistics.compute(tensor(try DTypeFixtures.bytes(entry["data"]!, dtype: dtype), dtype, count))
            #expect(stats.count == count, "\(name)")
            #expect(stats.nanCount == entry["nan"]?.intValue, "\(name): \(stats)")
            #expect(stats.infCount == entry["inf"]?.intValue, "\(name): \(stats)")
            #expect(stats.zeroCount == entry["zero"]?.intValue, "\(name): \(stats)")
            #expect(stats.finiteCount == entry["finite"]?.intValue, "\(name): \(stats)")
            if let min = entry["min"]?.doubleValue {
                #expect(stats.min == min, "\(name): \(stats)")
                #expect(stats.max == entry["max"]?.doubleValue, "\(name): \(stats)")
                #expect(close(stats.mean, try #require(entry["mean"]?.doubleValue)), "\(name): mean \(stats.mean) vs \(entry["mean"]!)")
                #expect(close(stats.std, try #require(entry["std"]?.doubleValue), relative: 1e-10), "\(name): std \(stats.std) vs \(entry["std"]!)")
            } else {
                #expect(stats.min.isNaN && stats.max.isNaN && stats.mean.isNaN && stats.std.isNaN, "\(name): \(stats)")
            }
        }
        #expect(dtypesSeen == Set(DType.valueTypes))
    }

    /// 0, 1, ..., n-1 over several threads and blocks: mean (n-1)/2, std sqrt((n^2-1)/12).
    @Test func largeTensorMatchesClosedForm() {
        let n = 3_000_001
        let buffer = ByteBuffer(count: n * 4)
        let floats = buffer.bytes.bindMemory(to: Float.self)
        for i in 0..<n { floats[i] = Float(i) }
        let stats = TensorStatistics.compute(TensorData(info: TensorInfo(name: "ramp", dtype: .F32, shape: [n]), buffer: buffer))
        let size = Double(n)
        #expect(stats.min == 0 && stats.max == size - 1)
        #expect(close(stats.mean, (size - 1) / 2))
        #expect(close(stats.std, ((size * size - 1) / 12).squareRoot()))
        #expect(stats.zeroCount == 1 && stats.nanCount == 0 && stats.finiteCount == n)
    }

    /// Slices merged give the statistics of the whole (how a caller reports progress).
    @Test func mergedSlicesEqualTheWhole() {
        let values: [Float] = (0..<10_000).map { (i: Int) -> Float in
            if i % 101 == 0 { return .nan }
            if i % 203 == 0 { return .infinity }
            return Float(i % 37) * 0.5 - 3
        }
        let whole = values.withUnsafeBytes { TensorStatistics.compute(dtype: .F32, bytes: $0, count: values.count) }
        var merged = values[0..<1].withUnsafeBytes { TensorStatistics.compute(dtype: .F32, bytes: $0, count: 1) }
        for start in stride(from: 1, to: values.count, by: 777) {
            let slice = values[start..<min(values.count, start + 777)]
            merged = merged.merged(with: slice.withUnsafeBytes { TensorStatistics.compute(dtype: .F32, bytes: $0, count: slice.count) })
        }
        #expect(merged.count == whole.count && merged.nanCount == whole.nanCount && merged.infCount == whole.infCount)
        #expect(merged.zeroCount == whole.zeroCount && merged.finiteCount == whole.finiteCount)
        #expect(merged.min == whole.min && merged.max == whole.max)
        #expect(close(merged.mean, whole.mean) && close(merged.std, whole.std, relative: 1e-10))
    }

    /// The same values as F32 at an odd address take the unaligned path and agree.
    @Test func unalignedDataGivesTheSameStatistics() throws {
        let values: [Float] = (0..<100_000).map { Float($0 % 97) - 40.5 }
        let aligned = values.withUnsafeBytes { TensorStatistics.compute(dtype: .F32, bytes: $0, count: values.count) }
        var shifted = [UInt8](repeating: 0, count: values.count * 4 + 1)
        values.withUnsafeBytes { source in
            shifted.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: 1).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        }
        let unaligned = shifted.withUnsafeBytes { TensorStatistics.compute(dtype: .F32, bytes: UnsafeRawBufferPointer(rebasing: $0[1...]), count: values.count) }
        #expect(unaligned.min == aligned.min && unaligned.max == aligned.max && unaligned.finiteCount == aligned.finiteCount)
        #expect(close(unaligned.mean, aligned.mean) && close(unaligned.std, aligned.std))
    }

    @Test func typesWithoutReadableValuesReportOnlyTheCount() {
        let bytes = [UInt8](repeating: 0x11, count: 16)
        let stats = bytes.withUnsafeBytes { TensorStatistics.compute(dtype: .F8_E8M0, bytes: $0, count: 16) }
        #expect(stats.count == 16 && stats.finiteCount == 0 && stats.mean.isNaN)
    }
}
