// How long OpenBLAS's idle worker threads spin before they sleep.
//
// Between two products an OpenBLAS worker waits for the next one by calling sched_yield in a
// loop, for 2^28 cycles (about 0.1 s) before it sleeps on a condition variable. loft runs
// its own parallel loops between products on GCD's threads: the bf16 kernel, the widening of
// 16-bit weights, the element-wise layers, LoFT's pairs. A spinning worker is a runnable
// thread too, so on a machine with as many cores as loops it takes a share of a core from
// them: on 2 cores, 67% of the OpenBLAS worker's samples were sched_yield, and a SmolLM-shape
// LoFT step with bf16 compute took 3.6 s instead of 3.1 s.
//
// OpenBLAS reads the budget (OPENBLAS_THREAD_TIMEOUT, log2 cycles, 4...30) when it starts its
// threads, which it does before main. So loft sets the variable, has OpenBLAS read its
// environment again and stops the threads; the next product that needs them starts them
// with the short budget. A budget the user set in the environment stands.

import Glibc

public enum BLASThreads {
    /// Spin budget, log2 of cycles: 2^16 (about 25 µs) outlasts the gap between two products
    /// issued back to back (a decoding step's projections), not one of loft's own loops.
    public static let spinBudget = 16

    /// Gives OpenBLAS's workers the short spin budget, once, before the first product.
    /// No effect when OPENBLAS_THREAD_TIMEOUT is set or the library lacks the entry points
    /// (an OpenMP build of OpenBLAS has no spinning pool of its own).
    public static func shortenSpin() {
        guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil,
              let readEnvironment = dlsym(nil, "openblas_read_env"),
              let shutdown = dlsym(nil, "blas_thread_shutdown_") else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", String(spinBudget), 0)
        unsafeBitCast(readEnvironment, to: (@convention(c) () -> Void).self)()
        _ = unsafeBitCast(shutdown, to: (@convention(c) () -> Int32).self)()
    }
}
