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
            GPT-2 keeps a KV cache; LLaMA recomputes the context per token. Details: docs/commands/generate.md.

            Examples:
              loft generate --base gpt2 --prompt "Once upon a time" --max-tokens 40
              loft generate --base gpt2 --adapter runs/a --prompt "ROMEO:" \\
                  --temperature 0.8 --top-k 40 --seed 1
            """
    )

    @Option(help: "Base GPT-2 or LLaMA model directory (with its tokenizer) or .safetensors file.") var base: String
    @Option(help: "A PEFT LoRA adapter directory.") var adapter: String?
    @Option(help: "The text to continue.") var prompt: String
    @Option(help: "Tokens to generate at most.") var maxTokens = 64
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float = 1
    @Option(help: "Sample among the K most likely tokens; 0 = all.") var topK = 0
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Option(help: "Tokenizer directory (default: the --base directory).") var tokenizer: String?

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") }
    }

    func run() throws {
        let source = try ModelSource.open(base)
        let loaded = try LoadedModel.load(source, adapter: adapter)
        printNotes(source, command: "generate")
        guard let model = loaded.languageModel else {
            throw ValidationError("\(base) is an MLP; loft generate needs a GPT-2 or LLaMA model")
        }
        let encoder: TextTokenizer
        do {
            encoder = try TokenFile.tokenizer(modelPath: tokenizer ?? source.tokenizerPath ?? base)
        } catch let TrainingError.noTokenizer(path, reason) {
            // The error's own wording is about a text data file; here it is the prompt.
            throw TrainingError.invalidOption("the prompt needs a tokenizer: \(path): \(reason.replacingPrefix(path + ": ")) (pass --tokenizer DIR)")
        }
        let ids = encoder.encode(prompt, addSpecialTokens: model.promptAddsSpecialTokens)
        let options = SamplingOptions(maxTokens: maxTokens, temperature: temperature, topK: topK, seed: seed, stopToken: encoder.endOfTextId)
        print(prompt, terminator: "")
        var pending: [Int32] = []
        var printed = 0
        _ = try Generation.generate(model, prompt: ids, options: options) { id in
            // Decode the pending ids together: a character can span several tokens.
            pending.append(id)
            let text = encoder.decode(pending)
            if !text.hasSuffix("\u{FFFD}") {
                print(String(text.dropFirst(printed)), terminator: "")
                fflush(stdout)
                printed = text.count
            }
        }
        let text = encoder.decode(pending)
        if text.count > printed { print(String(text.dropFirst(printed)), terminator: "") }
        print()
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
