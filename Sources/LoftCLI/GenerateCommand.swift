// `loft generate`: text from a GPT-2 or LLaMA model (with an optional PEFT adapter), printed as it is made.

import ArgumentParser
import Foundation
import Models
import TensorIO
import Training

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a GPT-2 or LLaMA model (and adapter).",
        discussion: """
            Temperature 0 is greedy decoding; otherwise tokens are sampled from \
            softmax(logits / T), among the K most likely when --top-k K > 0, with a seeded \
            generator (same seed, same text). Stops at the tokenizer's end-of-text token \
            (<|endoftext|>, <|end_of_text|>) or after --max-tokens. \
            Both GPT-2 and the LLaMA-layout families keep a KV cache. Details: docs/commands/generate.md.

            Examples:
              loft generate --base gpt2 --prompt "Once upon a time" --max-tokens 40
              loft generate --base gpt2 --adapter runs/a --prompt "ROMEO:" \\
                  --temperature 0.8 --top-k 40 --seed 1
              loft generate --base SmolLM-135M --prompt "The" --temperature 0 --json
            """
    )

    @OptionGroup var model: ModelOptions
    @Option(parsing: .unconditional, help: "The text to continue (may start with '-').") var prompt: String
    @Option(parsing: .unconditional, help: "Tokens to generate at most.") var maxTokens = 64
    @Option(parsing: .unconditional, help: "Sampling temperature; 0 = greedy.") var temperature: Float = 1
    @Option(parsing: .unconditional, help: "Sample among the K most likely tokens; 0 = all.") var topK = 0
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @OptionGroup var format: JSONOutput

    func sampling(stopToken: Int32? = nil) -> SamplingOptions {
        SamplingOptions(maxTokens: maxTokens, temperature: temperature, topK: topK, seed: seed, stopToken: stopToken)
    }

    func validate() throws {
        try CommandFailure.usage { try sampling().validate() }
    }

    func run() throws {
        let source = try ModelFamilies.open(model.base)
        model.configure(source)
        let loaded = try LoadedModel.load(source, adapter: model.adapter)
        printNotes(source, command: "generate")
        guard let language = loaded.languageModel else {
            throw ValidationError("\(model.base) is an MLP; loft generate needs a GPT-2 or LLaMA model")
        }
        let encoder: TextTokenizer
        do {
            encoder = try TokenFile.tokenizer(modelPath: model.tokenizer ?? source.tokenizerPath ?? model.base)
        } catch let TrainingError.noTokenizer(path, reason) {
            // The error's own wording is about a text data file; here it is the prompt.
            throw CommandFailure.Failure("the prompt needs a tokenizer: \(path): \(reason.replacingPrefix(path + ": ")) (pass --tokenizer DIR)")
        }
        let ids = encoder.encode(prompt, addSpecialTokens: language.promptAddsSpecialTokens)
        let console = Console.current
        // Text: printed as it is made. JSON: one document at the end.
        if !format.json { console.out(prompt, terminator: "") }
        var pending: [Int32] = []
        var printed = 0
        let generated = try Generation.generate(language, prompt: ids, options: sampling(stopToken: encoder.endOfTextId)) { id in
            guard !format.json else { return }
            // Decode the pending ids together: a character can span several tokens.
            pending.append(id)
            let text = encoder.decode(pending)
            if !text.hasSuffix("\u{FFFD}") {
                console.out(String(text.dropFirst(printed)), terminator: "")
                printed = text.count
            }
        }
        if format.json {
            let stopped = generated.last.map { $0 == encoder.endOfTextId } ?? false
            console.out(JSON.serialize(.object([
                JSONMember("prompt", .string(prompt)),
                JSONMember("completion", .string(encoder.decode(generated.filter { !stopped || $0 != encoder.endOfTextId }))),
                JSONMember("prompt_tokens", .integer(Int64(ids.count))),
                JSONMember("generated_tokens", .integer(Int64(generated.count))),
                JSONMember("stopped_at_end_of_text", .bool(stopped)),
            ]), style: .indented))
        } else {
            let text = encoder.decode(pending)
            console.out(text.count > printed ? String(text.dropFirst(printed)) : "")
        }
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
