// Finding a model directory's tokenizer: tokenizer.json first (it carries the added tokens and
// the post-processor; byte-level or SentencePiece-style BPE), else GPT-2's vocab.json + merges.txt. tokenizer_config.json, when present,
// names the BOS and EOS tokens (as a string or as {"content": ...}).

import Glibc
import TensorIO

public enum TokenizerLoader {
    public static func load(modelDirectory directory: String) throws -> any TextTokenizer {
        func file(_ name: String) -> String { directory.hasSuffix("/") ? directory + name : directory + "/" + name }
        func exists(_ path: String) -> Bool { access(SystemPath.cString(path), F_OK) == 0 }

        let definition: TokenizerDefinition
        if exists(file("tokenizer.json")) {
            definition = try TokenizerDefinition(tokenizerJSON: file("tokenizer.json"))
        } else if exists(file("vocab.json")) && exists(file("merges.txt")) {
            definition = try TokenizerDefinition(vocabularyFile: file("vocab.json"), mergesFile: file("merges.txt"))
        } else {
            throw TokenizerError.noTokenizerFiles(directory: directory)
        }
        var bos: String?
        var eos: String?
        let configPath = file("tokenizer_config.json")
        if exists(configPath) {
            let config = try TokenizerDefinition.readJSON(configPath)
            func tokenName(_ key: String) -> String? {
                config[key]?.stringValue ?? config[key]?["content"]?.stringValue
            }
            bos = tokenName("bos_token")
            eos = tokenName("eos_token")
        }
        return try make(definition, bos: bos, eos: eos)
    }

    /// The tokenizer a GGUF model file carries (`tokenizer.ggml.*`), as loft imports it.
    public static func load(gguf path: String) throws -> any TextTokenizer {
        let reader = try GGUFReader(path: path)
        guard let tokenizer = GGUFTokenizer(header: reader.header) else {
            throw TokenizerError.noTokenizerFiles(directory: path)
        }
        let ids = (bos: tokenizer.bos.flatMap { tokenizer.tokens.indices.contains($0) ? tokenizer.tokens[$0] : nil },
                   eos: tokenizer.eos.flatMap { tokenizer.tokens.indices.contains($0) ? tokenizer.tokens[$0] : nil })
        return try make(try TokenizerDefinition(tokenizerJSON: tokenizer.tokenizerJSON, path: path), bos: ids.bos, eos: ids.eos)
    }

    private static func make(_ definition: TokenizerDefinition, bos: String?, eos: String?) throws -> any TextTokenizer {
        if let settings = definition.sentencePiece {
            return try SentencePieceBPETokenizer(definition, settings: settings, bosToken: bos, endOfTextToken: eos)
        }
        return try ByteLevelBPETokenizer(definition, bosToken: bos, endOfTextToken: eos)
    }
}
