// `loft eval`: the evaluation loss of a base model (with an optional PEFT adapter) on a file,
// as defined in Training/Evaluation.swift and docs/commands/eval.md.

import ArgumentParser
import Foundation
import Models
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
            For an MLP (.npz data): the mean loss per row. A loss that is not finite (NaN, \
            infinite) is an error: exit status 1, null in --json. Details: docs/commands/eval.md.

            Examples:
              loft eval --base gpt2 --data valid.txt
              loft eval --base gpt2 --adapter runs/a --data valid.npy --seq 256 --json
              loft eval --base SmolLM-135M --adapter runs/llama --data valid.txt
            """
    )

    @OptionGroup var model: ModelOptions
    @Option(help: "Text file, .npy / .bin token file (GPT-2, LLaMA) or .npz with x, y (MLP).") var data: String
    @Option(parsing: .unconditional, help: "Chunks (or rows) per forward pass; changes speed only.") var batch = 8
    @Option(parsing: .unconditional, help: "Chunk length T (default min(1024, context)).") var seq: Int?
    @OptionGroup var format: JSONOutput

    func validate() throws {
        try CommandFailure.requirePath(data, flag: "--data")
        try CommandFailure.usage { try Evaluation.checkSettings(batch: batch, sequence: seq) }
    }

    func run() throws {
        let source = try ModelFamilies.open(model.base)
        model.configure(source)
        let loaded = try LoadedModel.load(source, adapter: model.adapter)
        printNotes(source, command: "eval")
        let result: EvaluationResult
        switch loaded {
        case let .language(language):
            let tokens = try TokenFile.tokens(path: data, vocabularySize: language.vocabularySize) {
                try TokenFile.tokenizer(modelPath: model.tokenizer ?? source.tokenizerPath ?? model.base)
            }
            result = try Evaluation.languageModel(language, tokens: tokens, batch: batch, sequence: seq ?? min(1024, language.maxPositions))
        case let .mlp(mlp):
            let rows = try MLPData(path: data)
            try rows.check(against: mlp)
            result = try Evaluation.mlp(mlp, data: rows, batch: batch)
        }
        let console = Console.current
        if format.json {
            console.out(JSON.serialize(EvalCommand.json(result), style: .line))
        } else {
            console.out("loss \(String(format: "%.6f", result.loss))  perplexity \(String(format: "%.4f", result.perplexity))  (\(result.count) predictions)")
        }
        guard result.loss.isFinite else {
            throw CommandFailure.Failure("\(data): the loss is \(result.loss), not finite: the model (or adapter) gives NaN or infinite values on this data")
        }
    }

    /// `{"loss": L, "perplexity": P, "tokens": N, "finite": true}`; a non-finite value is
    /// null (JSON has no NaN), and "finite" says whether the loss is a number.
    static func json(_ result: EvaluationResult) -> JSONValue {
        .object([
            JSONMember("loss", .finite(result.loss)),
            JSONMember("perplexity", .finite(result.perplexity)),
            JSONMember("tokens", .integer(Int64(result.count))),
            JSONMember("finite", .bool(result.loss.isFinite)),
        ])
    }
}
