// Timing helpers shared by the benchmarks: wall and CPU seconds of the fastest run, peak RSS,
// and what BLAS alone reaches right now (the machine is shared, so model throughput is
// reported beside the product rate of the same moment).

import CBLAS
import Compute
import Models
import Foundation
import Glibc

enum Timing {
    /// Wall and CPU seconds (all threads) of the fastest of `repeats` runs: on a busy machine
    /// the CPU time tells what the code costs.
    static func best(_ repeats: Int = 3, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        var fastest = (wall: Double.infinity, cpu: Double.infinity)
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
            try body()
            let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if wall < fastest.wall { fastest = (wall, cpuSeconds() - cpuStart) }
        }
        return fastest
    }

    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// GFLOP/s of one c_attn-sized product (1024 x 768 x 2304).
    static func referenceGemmGigaflops() -> Double {
        let m = 1024, k = 768, n = 2304
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
        let start = Date()
        for _ in 0..<10 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a.pointer, Int32(k),
                        b.pointer, Int32(n), 0, c.pointer, Int32(n))
        }
        return 10 * 2 * Double(m * n * k) / Date().timeIntervalSince(start) / 1e9
    }
}
