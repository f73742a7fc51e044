// What `loft finetune`, `eval` and `generate` need from a causal language model, whichever
// family it is (GPT-2, LLaMA); ModelFamilies picks the family of a checkpoint on disk.
//
// Everything else a training loop touches comes from TrainableModel: `parameters` (dense,
// by checkpoint name; `setTrainable(targets:)` for full fine-tuning), `projections` /
// `adaptableModules` (module paths with in/out features), `addLowRankAdapters`,
// `setLowRankAdapter`, `lowRankAdapters` (factors and their gradients), `zeroGradients`,
// `register(with: optimizer)` and `gradients` (the LoFT optimizer's view of the same matrices).

import Foundation
import TensorIO

public protocol CausalLanguageModel: TrainableModel {
    /// Hugging Face's `model_type`: "gpt2", "llama".
    var modelType: String { get }
    /// The transformers class a checkpoint of this model loads into ("GPT2LMHeadModel",
    /// "LlamaForCausalLM"): config.json `architectures` and PEFT's `auto_mapping`.
    var architecture: String { get }
    /// One line for logs: family, depth, width, heads, vocabulary, parameter count.
    var summary: String { get }
    var vocabularySize: Int { get }
    /// The longest sequence forward accepts.
    var maxPositions: Int { get }
    /// Parameter count, a tied head counted once.
    var parameterCount: Int { get }
    /// PEFT's `fan_in_fan_out` for this family's projections (GPT-2's Conv1D: true).
    var fanInFanOut: Bool { get }
    /// A config.json transformers reads back into this architecture.
    var configJSON: JSONValue { get }
    /// Whether a prompt is encoded with the tokenizer's special tokens, as transformers'
    /// `tokenizer(prompt)` does for this family (LLaMA-3's BOS); GPT-2's template adds none.
    var promptAddsSpecialTokens: Bool { get }
    /// A cache for generating one token at a time without rerunning the context; nil when
    /// the family has none (generation then runs the full forward each step).
    func makeKeyValueCache() -> KeyValueCache?

    /// Runs the model on `tokens` ([batch, sequence]); with `targets` (the next token of each
    /// position, -100 for none) returns the mean cross-entropy and prepares `backward()`.
    @discardableResult
    func forward(tokens: [Int32], targets: [Int32]?, batch: Int, sequence: Int) throws -> Float?
    /// Adds the gradients of the last forward's loss to every trainable parameter and factor.
    func backward()
    /// forward + backward in one call without holding the [batch · sequence, vocab] logits
    /// (the head runs over blocks of `headRows` rows): what a training step should use.
    @discardableResult
    func forwardBackward(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int) throws -> Float
    /// Forward only, for evaluation: the summed cross-entropy over targets != -100 and their
    /// number, the head run over blocks of `headRows` rows (memory does not grow with vocab).
    func loss(tokens: [Int32], targets: [Int32], batch: Int, sequence: Int, headRows: Int) throws -> (sum: Double, count: Int)
    /// Logits [batch · sequence, vocab] of the last forward (consumed by backward).
    var logits: UnsafeBufferPointer<Float> { get }
    /// Frees the activation buffers until the next forward.
    func releaseActivations()
    /// Gives a head tied to the input embedding its own copy (`lm_head.weight`), so that
    /// changing the embedding (an adapter on it) leaves the head as it was. No-op if untied.
    func untieHead()
}
