// Evaluation and the training step run the output head and the cross-entropy over blocks of
// rows, never holding the [batch · T, vocab] logits: the blocked loss equals the loss of the
// whole logits (forward), for GPT-2 and every LLaMA-layout family, with block sizes that
// split the rows unevenly, and some targets ignored (-100).

import Testing
@testable import Models

private func expectBlockedLossEqualsWhole(_ model: some DecoderLanguageModel, tokens: [Int32], targets: [Int32],
                                          batch: Int, sequence: Int, _ label: String) throws {
    var targets = targets
    for i in stride(from: 3, to: targets.count, by: 7) { targets[i] = CrossEntropy.ignoreIndex }
    let whole = try #require(try model.forward(tokens: tokens, targets: targets, batch: batch, sequence: sequence))
    let counted = targets.filter { $0 != CrossEntropy.ignoreIndex }.count
    for headRows in [1, 5, 13, batch * sequence, 4096] {
        let (sum, count) = try model.loss(tokens: tokens, targets: targets, batch: batch, sequence: sequence, headRows: headRows)
        #expect(count == counted, "\(label) rows \(headRows)")
        #expect(abs(Float(sum / Double(count)) - whole) <= 1e-6 * abs(whole), "\(label) rows \(headRows)")
        model.zeroGradients()
        let stepLoss = try model.forwardBackward(tokens: tokens, targets: targets, batch: batch, sequence: sequence, headRows: headRows)
        #expect(abs(stepLoss - whole) <= 1e-6 * abs(whole), "\(label) forwardBackward rows \(headRows)")
        #expect(model.logits.isEmpty, "\(label): no [rows, vocab] logits held")
    }
}

@Test(arguments: LlamaFixtures.models + LlamaFixtures.families)
func llamaBlockedHeadLossEqualsWholeLogits(fixture: String) throws {
    let model = try LlamaFixtures.load(fixture)
    let (ids, targets) = try LlamaFixtures.tokensAndTargets(fixture)
    try expectBlockedLossEqualsWhole(model, tokens: ids, targets: targets, batch: LlamaFixtures.batch, sequence: LlamaFixtures.sequence, fixture)
}

@Test func gpt2BlockedHeadLossEqualsWholeLogits() throws {
    let config = try GPT2Config(contentsOf: Fixtures.path("gpt2-tiny/config.json"))
    let model = try GPT2Model(config: config, reader: try Fixtures.reader("gpt2-tiny/model.safetensors"))
    let (ids, targets) = try Fixtures.gpt2TokensAndTargets("gpt2-tiny")
    try expectBlockedLossEqualsWhole(model, tokens: ids, targets: targets, batch: 2, sequence: 16, "gpt2")
}
