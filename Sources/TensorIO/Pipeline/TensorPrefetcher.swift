// Reading (and casting) the next tensor while the writer writes the current one.
//
// A writer pulls tensors one at a time and spends most of its time in write(2), the kernel
// copying into the page cache on one core. Meanwhile a second thread reads the tensor the
// writer will ask for next: page faults on the mapping, the CRC check and inflate of an npz
// member, the dtype cast. Measured on the 1 GiB benchmark this is the difference between one
// busy core and two (docs/benchmarks.md).
//
// The writer's order is predicted (`order`); a wrong guess only costs the overlap: the
// prefetched tensor is dropped and the requested one is read in place. The reader is never
// used by two threads at once: the request waits for the prefetch before touching it.
// Memory: at most two prepared tensors exist (the one being written, the next one).

import Dispatch

final class TensorPrefetcher {
    private let prepare: (String) throws -> TensorData
    private let order: [[UInt8]]
    private let position: [[UInt8]: Int]
    private let queue = DispatchQueue(label: "loft.convert.prefetch")
    private let group = DispatchGroup()
    /// Written by the prefetch thread, read after `group.wait()`.
    private var pending: (name: [UInt8], result: Result<TensorData, Error>)?
    private var inFlight = false

    /// `order`: the output names in the order the writer is expected to ask for them.
    /// `prepare`: reads and casts one output tensor.
    init(order: [String], prepare: @escaping (String) throws -> TensorData) {
        self.prepare = prepare
        self.order = order.map { Array($0.utf8) }
        var position: [[UInt8]: Int] = [:]
        for (index, name) in self.order.enumerated() where position[name] == nil { position[name] = index }
        self.position = position
    }

    /// Waits for a prefetch in flight, so no other thread uses the reader after this returns.
    func finish() {
        if inFlight { group.wait() }
        inFlight = false
        pending = nil
    }

    /// The tensor `name`, prefetched if the guess was right; then starts on the one after it.
    /// `beforeRead` runs once the reader is free (no prefetch in flight), before any read,
    /// with the name of a prefetched tensor that was not the one asked for (to release it).
    func tensor(_ name: String, beforeRead: (_ dropped: String?) -> Void) throws -> TensorData {
        let key = Array(name.utf8)
        if inFlight { group.wait() }
        inFlight = false
        let prefetched = pending
        pending = nil
        let hit = prefetched?.name == key
        beforeRead(hit ? nil : prefetched.map { String(decoding: $0.name, as: UTF8.self) })
        let data: TensorData
        if let prefetched, hit {
            data = try prefetched.result.get()
        } else {
            data = try prepare(name)
        }
        if let index = position[key], index + 1 < order.count {
            start(order[index + 1])
        }
        return data
    }

    private func start(_ key: [UInt8]) {
        inFlight = true
        let name = String(decoding: key, as: UTF8.self)
        queue.async(group: group) { [self] in
            pending = (key, Result { try prepare(name) })
        }
    }

    deinit { if inFlight { group.wait() } }
}
