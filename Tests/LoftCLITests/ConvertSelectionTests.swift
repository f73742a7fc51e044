// --include / --exclude / --rename: which tensors are written and under which names.

import Foundation
import Testing
import TensorIO

@Suite struct ConvertSelectionTests {
    @Test func includeAndExcludePatterns() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("attn.safetensors")
        let result = loft("convert", Repo.fixture("small.safetensors"), out, "--include", "transformer.h.0.*", "--exclude", "*.bias")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Set(try tensorsOf(out).keys) == ["transformer.h.0.attn.weight", "transformer.h.0.mlp.weight", "transformer.h.0.ln.weight"])
    }

    @Test func renameStripsAPrefix() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("renamed.npz")
        #expect(loft("convert", Repo.fixture("small.safetensors"), out, "--rename", "^transformer.=", "--rename", "h.0.=layers.0.").status == 0)
        try expectSameTensors(Repo.fixture("small.safetensors"), out) { name in
            String(name.dropFirst("transformer.".count)).replacingOccurrences(of: "h.0.", with: "layers.0.")
        }
    }

    @Test func renameCollisionNamesBothTensors() throws {
        let scratch = ScratchDirectory()
        let result = loft("convert", Repo.fixture("small.safetensors"), scratch.file("o.safetensors"), "--rename", "attn.weight$=x", "--rename", "attn.bias$=x")
        #expect(result.status == 1)
        #expect(result.stderr.contains("transformer.h.0.attn.weight") && result.stderr.contains("transformer.h.0.attn.bias"))
        #expect(scratch.contents().isEmpty)
    }

    @Test func noMatchIsAnError() throws {
        let scratch = ScratchDirectory()
        let result = loft("convert", Repo.fixture("small.safetensors"), scratch.file("o.safetensors"), "--include", "nothing*")
        #expect(result.status == 1)
        #expect(scratch.contents().isEmpty)
    }

    @Test func patternRules() throws {
        #expect(TensorNamePattern("attn").matches("h.0.attn.bias"))
        #expect(!TensorNamePattern("attn").matches("h.0.mlp.bias"))
        #expect(TensorNamePattern("*.bias").matches("h.0.attn.bias"))
        #expect(!TensorNamePattern("*.bias").matches("h.0.attn.bias_scale"))
        #expect(TensorNamePattern("h.[0-3].*").matches("h.2.mlp"))
        #expect(!TensorNamePattern("h.[0-3].*").matches("h.7.mlp"))
        #expect(try TensorRename(rule: "^model.=").apply("model.model.x") == "model.x")
        #expect(try TensorRename(rule: ".weight$=.w").apply("a.weight.weight") == "a.weight.w")
        #expect(try TensorRename(rule: "h.=layers.").apply("t.h.0.h.1") == "t.layers.0.h.1")
        #expect(try TensorRename(rule: "^a=b").apply("xa") == "xa")
    }
}
