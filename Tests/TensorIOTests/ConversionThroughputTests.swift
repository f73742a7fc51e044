import Compute
import Foundation
import Testing
import TensorIO

/// Throughput of the hot conversions and of the statistics, printed in GB/s of input.
/// Opt-in (LOFT_BENCH=1) and meaningful only in a release build:
///   swift build -c release -Xswiftc -enable-testing --build-tests
///   LOFT_BENCH=1 swift test -c release --skip-build --filter ConversionThroughputTests
@Suite(.enabled(if: ProcessInfo.processInfo.environment["LOFT_BENCH"] == "1", "set LOFT_BENCH=1 (release build) to measure"))
struct ConversionThroughputTests {
    static let elements = (Int(ProcessInfo.processInfo.environment["LOFT_BENCH_MIB"] ?? "") ?? 1024) << 18

    /// Wall seconds and CPU seconds (all threads) of the fastest of `repeats` runs. On a
    /// busy machine the CPU time tells what the code costs: bytes / (CPU seconds / cores)
    /// is the throughput the cores would give if they were free.
    func best(_ repeats: Int = 3, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        var fastest = (wall: Double.infinity, cpu: Double.infinity)
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
            try body()
            let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if wall < fastest.wall { fastest = (wall, cpuSeconds() - cpuStart) }
        }
        return fastest
    }

    func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    func report(_ label: String, _ gigabytes: Double, _ time: (wall: Double, cpu: Double)) {
        let cores = Double(Parallel.coreCount)
        print(String(format: "%@: %.2f GB/s wall, %.2f GB/s by CPU time on %.0f cores (%.3f s wall, %.3f s CPU, %.2f GB)",
                     label, gigabytes / time.wall, gigabytes * cores / time.cpu, cores, time.wall, time.cpu, gigabytes))
    }

    func input() -> TensorData {
        let buffer = ByteBuffer(count: Self.elements * 4)
        let floats = buffer.bytes.bindMemory(to: Float.self)
        var state: UInt32 = 12345
        for i in 0..<Self.elements {
            state = state &* 1_664_525 &+ 1_013_904_223
            floats[i] = Float(Int32(bitPattern: state)) * 1e-9
        }
        return TensorData(info: TensorInfo(name: "bench", dtype: .F32, shape: [Self.elements]), buffer: buffer)
    }

    @Test func conversionAndStatisticsThroughput() throws {
        let data = input()
        let gigabytes = Double(data.bytes.count) / 1e9
        for target in [DType.F16, .BF16, .F64, .F8_E4M3] {
            report("F32 -> \(target.rawValue) (f32 input)", gigabytes, try best { _ = try DTypeConversion.convert(data, to: target) })
        }
        // Into a buffer already written once: the loops alone, without first-touch page faults.
        let reused = ByteBuffer(count: Self.elements * 2)
        for target in [DType.F16, .BF16] {
            report("F32 -> \(target.rawValue) into a reused buffer", gigabytes, try best {
                try DTypeConversion.convert(from: .F32, source: data.bytes, to: target, destination: reused.bytes, count: Self.elements)
            })
        }
        let half = try DTypeConversion.convert(data, to: .F16)
        report("F16 -> F32 (f16 input)", gigabytes / 2, try best { _ = try DTypeConversion.convert(half, to: .F32) })
        let e4m3 = try DTypeConversion.convert(data, to: .F8_E4M3)
        report("F8_E4M3 -> F32 (table, f8 input)", gigabytes / 4, try best { _ = try DTypeConversion.convert(e4m3, to: .F32) })
        let bf16 = try DTypeConversion.convert(data, to: .BF16)
        report("BF16 -> F16 (table, bf16 input)", gigabytes / 2, try best { _ = try DTypeConversion.convert(bf16, to: .F16) })
        report("statistics F32", gigabytes, best { _ = TensorStatistics.compute(data) })
        report("statistics F16 (f16 input)", gigabytes / 2, best { _ = TensorStatistics.compute(half) })
    }
}
