// The BPE model: a word's bytes start as one token each and the adjacent pair with the lowest
// merge rank is merged, leftmost first, until no adjacent pair has a merge. This is exactly the
// order of Hugging Face's priority queue (rank, then position) and of GPT-2's original
// pair-rank loop. Short words (nearly all) run the loop on small arrays, keeping each pair's
// rank so that a merge looks up only the two pairs it changed; long words (a megabyte of one
// letter is one word) use a heap over a linked list, O(n log n).

struct BytePairModel: Sendable {
    /// Token bytes -> id, for every vocabulary entry spelled in the byte-level alphabet.
    var vocabulary: ByteKeyTable
    /// The id of each single byte's token; -1 when the vocabulary lacks it.
    var byteIds: [Int32]
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    var merges: [UInt64: UInt64]
    /// LLaMA-3: a word that is itself in the vocabulary is that token, whatever the merges say.
    var ignoreMerges: Bool
    var unknownId: Int32?
    var fuseUnknown: Bool

    static let noMerge = UInt64.max
    /// Words longer than this use the heap.
    static let heapThreshold = 128

    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> UInt64 {
        merges[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))] ?? BytePairModel.noMerge
    }

    /// Appends the ids of one pre-tokenized word.
    func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32], scratch: inout WordScratch) {
        if ignoreMerges, let id = vocabulary.value(for: word) {
            output.append(Int32(id))
            return
        }
        scratch.symbols.removeAll(keepingCapacity: true)
        var lastWasUnknown = false
        for byte in word {
            let id = byteIds[Int(byte)]
            if id >= 0 {
                scratch.symbols.append(id)
                lastWasUnknown = false
            } else if let unknownId, !(fuseUnknown && lastWasUnknown) {
                // Hugging Face drops a character missing from the vocabulary when there is no
                // unknown token.
                scratch.symbols.append(unknownId)
                lastWasUnknown = true
            }
        }
        if scratch.symbols.count > BytePairModel.heapThreshold {
            mergeWithHeap(&scratch.symbols)
        } else if scratch.symbols.count > 1 {
            mergeSmall(&scratch.symbols, pairs: &scratch.pairs)
        }
        output.append(contentsOf: scratch.symbols)
    }

    func mergeSmall(_ symbols: inout [Int32], pairs: inout [UInt64]) {
        pairs.removeAll(keepingCapacity: true)
        for p in 0..<(symbols.count - 1) { pairs.append(merge(symbols[p], symbols[p + 1])) }
        while true {
            var best = BytePairModel.noMerge
            var position = -1
            for p in 0..<pairs.count where pairs[p] < best {
                best = pairs[p]
                position = p
            }
            if position < 0 { return }
            symbols[position] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            symbols.remove(at: position + 1)
            pairs.remove(at: position)
            if position > 0 { pairs[position - 1] = merge(symbols[position - 1], symbols[position]) }
            if position < pairs.count { pairs[position] = merge(symbols[position], symbols[position + 1]) }
        }
    }

    func mergeWithHeap(_ symbols: inout [Int32]) {
        let n = symbols.count
        var next = [Int32](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<n { buffer[i] = i + 1 < n ? Int32(i + 1) : -1 }
            count = n
        }
        var previous = (0..<n).map { Int32($0) - 1 }
        var heap = MinHeap()
        for p in 0..<(n - 1) {
            let found = merge(symbols[p], symbols[p + 1])
            if found != BytePairModel.noMerge { heap.push((found >> 32) << 32 | UInt64(p)) }
        }
        let dead: Int32 = -1
        while let top = heap.pop() {
            let rank = top >> 32
            let p = Int(top & 0xFFFF_FFFF)
            let q = Int(next[p])
            guard symbols[p] != dead, q >= 0 else { continue }
            let found = merge(symbols[p], symbols[q])
            guard found != BytePairModel.noMerge, found >> 32 == rank else { continue }
            symbols[p] = Int32(truncatingIfNeeded: found & 0xFFFF_FFFF)
            symbols[q] = dead
            let after = next[q]
            next[p] = after
            if after >= 0 { previous[Int(after)] = Int32(p) }
            let before = previous[p]
            if before >= 0 {
                let left = merge(symbols[Int(before)], symbols[p])
                if left != BytePairModel.noMerge { heap.push((left >> 32) << 32 | UInt64(before)) }
            }
            if after >= 0 {
                let right = merge(symbols[p], symbols[Int(after)])
                if right != BytePairModel.noMerge { heap.push((right >> 32) << 32 | UInt64(p)) }
            }
        }
        symbols.removeAll { $0 == dead }
    }
}

/// Buffers reused across the words of one encode call.
struct WordScratch {
    var symbols: [Int32] = []
    var pairs: [UInt64] = []
}

/// A binary min-heap of (rank << 32 | position): lowest rank first, then leftmost.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ item: UInt64) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent] <= items[child] { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var parent = 0
        let count = items.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            let right = left + 1
            let smaller = right < count && items[right] < items[left] ? right : left
            if items[parent] <= items[smaller] { break }
            items.swapAt(parent, smaller)
            parent = smaller
        }
        return top
    }
}
