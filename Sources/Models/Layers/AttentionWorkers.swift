// The worker pool both attentions run on: their units of work (a (batch, head) pair for
// GPT-2, a (batch, key/value group) for LLaMA) are spread over the cores with OpenBLAS held
// to one thread meanwhile, since a T x T x head-size product is too small for OpenBLAS's own
// threads to pay off.

import CBLAS
import Compute
import Dispatch

/// OpenBLAS's thread count at start-up, restored after each call (a fixed value, so two
/// overlapping calls cannot leave BLAS single-threaded).
private let blasThreads = openblas_get_num_threads()

/// body(unit, scratch) for every unit in 0..<count, one worker per core taking every
/// workers-th unit with its own `scratchPerWorker` floats.
func forEachAttentionUnit(_ count: Int, scratchPerWorker: Int, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
    let workers = max(1, min(Parallel.coreCount, count))
    let scratch = FloatBuffer(count: workers * scratchPerWorker)
    let threads = blasThreads
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(threads) }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var unit = worker
            while unit < count { body(unit, scratch.pointer + worker * scratchPerWorker); unit += workers }
        }
    }
    withExtendedLifetime(scratch) {}
}
