// Throughput of the hot dtype conversions and of the statistics, in GB/s of input, wall and
// by CPU time (bytes x cores / CPU seconds: what the cores give when they are free).

import ArgumentParser
import Compute
import Foundation
import TensorIO

struct ConversionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversion", abstract: "dtype conversions and statistics, GB/s of input.")

    @Option(help: "Input size in MiB of f32.") var mib = 1024

    func run() throws {
        let elements = mib << 18
        let data = input(elements: elements)
        let gigabytes = Double(data.bytes.count) / 1e9
        for target in [DType.F16, .BF16, .F64, .F8_E4M3] {
            report("F32 -> \(target.rawValue) (f32 input)", gigabytes, try Timing.best { _ = try DTypeConversion.convert(data, to: target) })
        }
        // Into a buffer already written once: the loops alone, without first-touch page faults.
        let reused = ByteBuffer(count: elements * 2)
        for target in [DType.F16, .BF16] {
            report("F32 -> \(target.rawValue) into a reused buffer", gigabytes, try Timing.best {
                try DTypeConversion.convert(from: .F32, source: data.bytes, to: target, destination: reused.bytes, count: elements)
            })
        }
        let half = try DTypeConversion.convert(data, to: .F16)
        report("F16 -> F32 (f16 input)", gigabytes / 2, try Timing.best { _ = try DTypeConversion.convert(half, to: .F32) })
        let e4m3 = try DTypeConversion.convert(data, to: .F8_E4M3)
        report("F8_E4M3 -> F32 (table, f8 input)", gigabytes / 4, try Timing.best { _ = try DTypeConversion.convert(e4m3, to: .F32) })
        let bf16 = try DTypeConversion.convert(data, to: .BF16)
        report("BF16 -> F16 (table, bf16 input)", gigabytes / 2, try Timing.best { _ = try DTypeConversion.convert(bf16, to: .F16) })
        report("statistics F32", gigabytes, Timing.best { _ = TensorStatistics.compute(data) })
        report("statistics F16 (f16 input)", gigabytes / 2, Timing.best { _ = TensorStatistics.compute(half) })
    }

    private func input(elements: Int) -> TensorData {
        let buffer = ByteBuffer(count: elements * 4)
        let floats = buffer.bytes.bindMemory(to: Float.self)
        var state: UInt32 = 12345
        for i in 0..<elements {
            state = state &* 1_664_525 &+ 1_013_904_223
            floats[i] = Float(Int32(bitPattern: state)) * 1e-9
        }
        return TensorData(info: TensorInfo(name: "bench", dtype: .F32, shape: [elements]), buffer: buffer)
    }

    private func report(_ label: String, _ gigabytes: Double, _ time: (wall: Double, cpu: Double)) {
        let cores = Double(Parallel.coreCount)
        print(String(format: "%@: %.2f GB/s wall, %.2f GB/s by CPU time on %.0f cores (%.3f s wall, %.3f s CPU, %.2f GB)",
                     label, gigabytes / time.wall, gigabytes * cores / time.cpu, cores, time.wall, time.cpu, gigabytes))
    }
}
