// `loft generate` on a model directory without tokenizer files: the message is about the
// prompt needing a tokenizer (it used to call the model directory "a text file").

import Foundation
import Testing

@Suite struct GenerateTokenizerTests {
    @Test func modelWithoutTokenizerNamesTheDirectoryAndTheFix() throws {
        let scratch = ScratchDirectory()
        let model = Repo.root.appendingPathComponent("fixtures/training/gpt2").path
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: model + "/" + file, toPath: scratch.file(file))
        }
        let result = loft("generate", "--base", scratch.path, "--prompt", "hi", "--max-tokens", "1")
        #expect(result.status == 1)
        #expect(result.stderr.contains(scratch.path), "\(result.stderr)")
        #expect(result.stderr.contains("--tokenizer"), "\(result.stderr)")
        #expect(!result.stderr.contains("is a text file"), "\(result.stderr)")
    }
}
