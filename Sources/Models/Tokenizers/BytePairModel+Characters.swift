// SentencePiece-style BPE starts a word from its characters, not its bytes: each Unicode
// scalar is one symbol when the vocabulary has it; otherwise, with byte_fallback, one <0xNN>
// token per UTF-8 byte (when all are in the vocabulary), else the unknown token (consecutive
// unknowns fused into one with fuse_unk), else nothing. The merge loop is the byte-level one.

extension BytePairModel {
    /// Appends the ids of one word, its symbols the scalars of `word` (valid UTF-8).
    /// `byteFallbackIds[b]` is the id of <0xNN> for byte b, or nil without byte_fallback.
    func encodeCharacterWord(_ word: UnsafeBufferPointer<UInt8>, byteFallbackIds: [Int32]?, into output: inout [Int32],
                             scratch: inout WordScratch) {
        if ignoreMerges, let id = vocabulary.value(for: word) {
            output.append(Int32(id))
            return
        }
        scratch.symbols.removeAll(keepingCapacity: true)
        var lastWasUnknown = false
        var i = 0
        while i < word.count {
            let lead = word[i]
            let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            let end = min(i + length, word.count)
            let character = UnsafeBufferPointer(rebasing: word[i..<end])
            if let id = vocabulary.value(for: character) {
                scratch.symbols.append(Int32(id))
                lastWasUnknown = false
            } else if let byteFallbackIds, character.allSatisfy({ byteFallbackIds[Int($0)] >= 0 }) {
                for byte in character { scratch.symbols.append(byteFallbackIds[Int(byte)]) }
                lastWasUnknown = false
            } else if let unknownId, !(fuseUnknown && lastWasUnknown) {
                scratch.symbols.append(unknownId)
                lastWasUnknown = true
            }
            i = end
        }
        if scratch.symbols.count > BytePairModel.heapThreshold {
            mergeWithHeap(&scratch.symbols)
        } else if scratch.symbols.count > 1 {
            mergeSmall(&scratch.symbols, pairs: &scratch.pairs)
        }
        output.append(contentsOf: scratch.symbols)
    }
}
