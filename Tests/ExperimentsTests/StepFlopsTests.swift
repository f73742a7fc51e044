// The FLOP count behind the MFU column of scripts/bench-llama.sh, against a count by hand.

import Testing
@testable import Experiments

@Test func stepFlopsCountsProductsByHand() {
    // One 4 -> 8 projection with rank-2 factors over 3 rows, a 10 x 4 head, one layer of
    // 4-wide attention over a sequence of 3 (6 visible pairs).
    let flops = StepFlops.loraStep(projections: [(4, 8)], rank: 2, rows: 3, hidden: 4, vocabulary: 10,
                                   attentionWidth: 4, layers: 1, batch: 1, sequence: 3)
    let projection = 4.0 * 3 * 4 * 8, factors = 6.0 * 3 * 2 * (4 + 8), head = 4.0 * 3 * 4 * 10, attention = 6.0 * 2 * 6 * 4
    #expect(flops == projection + factors + head + attention)
}

@Test func sgemmPeakIsPositive() {
    #expect(SgemmPeak.gigaflops(size: 64, repeats: 2) > 0)
}
