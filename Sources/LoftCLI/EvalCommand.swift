// `loft eval`: the evaluation loss of a base model (with an optional PEFT adapter) on a file,
// as defined in Training/Evaluation.swift and docs/commands/eval.md.

import ArgumentParser
import Foundation
import TensorIO
import Training

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Mean token cross-entropy and perplexity of a model (and adapter) on a file.",
        discussion: """
            The tokens are cut into consecutive non-overlapping chunks of T tokens (the last one \
            may be shorter; one of a single token is dropped); inside each chunk, position t \
            predicts token t+1, so a chunk of L tokens gives L-1 predictions. loss = mean \
            cross-entropy over all predictions, perplexity = exp(loss), tokens = the number of \
            predictions. scripts/peft_eval.py computes the same with transformers + PEFT. \
            For an MLP (.npz data): the mean loss per row. Details: docs/commands/eval.md.

            Examples:
              loft eval --base gpt2 --data valid.txt
              loft eval --base gpt2 --adapter runs/a --data valid.npy --seq 256 --json
              loft eval --base SmolLM-135M --adapter runs/llama --data valid.txt
            """
    )

    @Option(help: "Base model (GPT-2 or LLaMA directory or .safetensors file, or an MLP).") var base: String
    @Option(help: "A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors).") var adapter: String?
    @Option(help: "Text file, .npy / .bin token file (GPT-2, LLaMA) or .npz with x, y (MLP).") var data: String
    @Option(help: "Chunks (or rows) per forward pass; changes speed only.") var batch = 8
    @Option(help: "Chunk length T (default min(1024, context)).") var seq: Int?
    @Option(help: "Tokenizer directory for text data (default: the --base directory).") var tokenizer: String?
    @Flag(help: "Print {\"loss\", \"perplexity\", \"tokens\"} as JSON.") var json = false

    func run() throws {
        let source = try ModelSource.open(base)
        let model = try LoadedModel.load(source, adapter: adapter)
        printNotes(source, command: "eval")
        let result: EvaluationResult
        switch model {
        case let .language(language):
            let tokens = try TokenFile.tokens(path: data, vocabularySize: language.vocabularySize) {
                try TokenFile.tokenizer(modelPath: tokenizer ?? source.tokenizerPath ?? base)
            }
            result = try Evaluation.languageModel(language, tokens: tokens, batch: batch, sequence: seq ?? min(1024, language.maxPositions))
        case let .mlp(mlp):
            let rows = try MLPData(path: data)
            try rows.check(against: mlp)
            result = try Evaluation.mlp(mlp, data: rows, batch: batch)
        }
        if json {
            print("{\"loss\": \(result.loss), \"perplexity\": \(result.perplexity), \"tokens\": \(result.count)}")
        } else {
            print("loss \(String(format: "%.6f", result.loss))  perplexity \(String(format: "%.4f", result.perplexity))  (\(result.count) predictions)")
        }
    }
}
