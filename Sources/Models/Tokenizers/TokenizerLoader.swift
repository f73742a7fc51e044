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
        if let settings = definition.sentencePiece {
            return try SentencePieceBPETokenizer(definition, settings: settings, bosToken: bos, endOfTextToken: eos)
        }
        return try ByteLevelBPETokenizer(definition, bosToken: bos, endOfTextToken: eos)
    }
}
