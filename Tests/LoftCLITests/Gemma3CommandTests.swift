// The commands on a Gemma 3 model with a Gemma-style (SentencePiece, byte-fallback) tokenizer:
// `finetune --init` from a gemma3_text config.json with the tokenizer's vocabulary, then
// `finetune` (LoRA), `eval`, `generate` and `merge` on the result. The model is the fixture's
// shape (fixtures/families/gemma3) with vocabulary 906 (fixtures/tokenizers/gemma).

import Foundation
import Testing
import TensorIO

@Suite struct Gemma3CommandTests {
    @Test func finetuneEvalGenerateMergeWithTheSentencePieceTokenizer() throws {
        let scratch = ScratchDirectory()
        let tokenizer = Repo.root.appendingPathComponent("fixtures/tokenizers/gemma").path
        guard case var .object(members) = try JSONFile.read(Repo.root.appendingPathComponent("fixtures/families/gemma3/config.json").path) else {
            Issue.record("config.json is not an object")
            return
        }
        members.removeAll { $0.key == "vocab_size" }
        members.append(JSONMember("vocab_size", .integer(906)))
        try JSON.serialize(.object(members), style: .indented).write(toFile: scratch.file("config.json"), atomically: true, encoding: .utf8)
        let text = String(repeating: "Licensed under the Apache License, Version 2.0; you may not use this file except in compliance. ", count: 20)
        try text.write(toFile: scratch.file("text.txt"), atomically: true, encoding: .utf8)

        let initialised = loft("finetune", "--init", scratch.file("config.json"), "--tokenizer", tokenizer, "--data", scratch.file("text.txt"),
                               "--optimizer", "adamw", "--targets", "all", "--lr", "3e-3", "--steps", "3", "--batch", "2", "--seq", "16",
                               "--out", scratch.file("base"))
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let config = try JSONFile.read(scratch.file("base/config.json"))
        #expect(config["model_type"]?.stringValue == "gemma3_text" && config["query_pre_attn_scalar"]?.intValue == 20)

        let tuned = loft("finetune", "--base", scratch.file("base"), "--data", scratch.file("text.txt"), "--steps", "3", "--batch", "2",
                         "--seq", "16", "--rank", "4", "--out", scratch.file("run"))
        #expect(tuned.status == 0, "\(tuned.stderr)")
        let evaluated = loft("eval", "--base", scratch.file("base"), "--adapter", scratch.file("run"), "--data", scratch.file("text.txt"), "--seq", "16")
        #expect(evaluated.status == 0 && evaluated.stdout.contains("loss"), "\(evaluated.stderr)")
        let generated = loft("generate", "--base", scratch.file("base"), "--adapter", scratch.file("run"), "--prompt", "Licensed ꙮ",
                             "--max-tokens", "3", "--temperature", "0")
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(generated.stdout.hasPrefix("Licensed ꙮ"), "\(generated.stdout)")
        let merged = loft("merge", "--base", scratch.file("base"), "--adapter", scratch.file("run"), "--out", scratch.file("merged"))
        #expect(merged.status == 0, "\(merged.stderr)")
        let mergedEval = loft("eval", "--base", scratch.file("merged"), "--tokenizer", tokenizer, "--data", scratch.file("text.txt"), "--seq", "16")
        #expect(mergedEval.status == 0, "\(mergedEval.stderr)")
        // The merged model's loss is the adapted one's (printed to 6 decimals).
        #expect(mergedEval.stdout.split(separator: " ").prefix(2) == evaluated.stdout.split(separator: " ").prefix(2),
                "\(mergedEval.stdout) vs \(evaluated.stdout)")
    }
}
