// bf16 and f16 bases: the merged value must be the correctly rounded float64 sum, bit for bit
// (the generator computes it with numpy float64 and one round-to-nearest-even). MLX-LM
// adapters: mlx-lm's fuse formula in float64, rounded once to float32.

import Testing
import TensorIO
@testable import Adapters

@Suite struct RoundedMergeTests {
    @Test(arguments: [
        ("gpt2-base-bf16.safetensors", "peft-gpt2-lora", "expected-gpt2-lora-bf16.safetensors"),
        ("llama-base-bf16.safetensors", "peft-llama-lora", "expected-llama-lora-bf16.safetensors"),
        ("llama-base-f16.safetensors", "peft-llama-lora", "expected-llama-lora-f16.safetensors"),
        ("llama-base.safetensors", "mlx-llama-lora", "expected-llama-mlx-lora.safetensors"),
        ("llama-base.safetensors", "mlx-llama-dora", "expected-llama-mlx-dora.safetensors"),
    ])
    func mergedIsTheCorrectlyRoundedExactSum(base: String, adapter: String, expected: String) throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("merged.safetensors")
        try merge(base: Fixture.path(base), adapters: [AdapterSource(path: Fixture.path(adapter))], out: out)
        let merged = try LoadedTensors(out)
        let want = try LoadedTensors(Fixture.path(expected))
        #expect(merged.names == want.names)
        for name in want.names {
            #expect(merged.infos[name] == want.infos[name])
            #expect(merged.bytes[name] == want.bytes[name], "\(name) differs from the correctly rounded sum")
        }
    }

    @Test func mlxFactorsAreReadTransposedWithTheAbsoluteScale() throws {
        let adapter = try Adapter(directory: Fixture.path("mlx-llama-lora"))
        #expect(adapter.format == .mlx)
        let q = try #require(adapter.updates.first { $0.module == "model.layers.0.self_attn.q_proj" })
        // lora_a is stored in x r (32 x 4), lora_b r x out (4 x 32); scale 2.5 from lora_parameters.
        #expect(q.rank == 4 && q.aColumns == 32 && q.bRows == 32 && q.scale == 2.5)
        let v = try #require(adapter.updates.first { $0.module == "model.layers.0.self_attn.v_proj" })
        #expect(v.bRows == 16)  // GQA: 2 KV heads of 8
    }

    @Test func castingTheDeltaToBf16FirstWouldHaveChangedElements() throws {
        // Shows the rounding matters: add the delta rounded to bf16 (PEFT's order on a bf16
        // base) and count elements that differ from the correctly rounded sum.
        let adapter = try Adapter(directory: Fixture.path("peft-llama-lora"))
        let base = try LoadedTensors(Fixture.path("llama-base-bf16.safetensors"))
        let expected = try LoadedTensors(Fixture.path("expected-llama-lora-bf16.safetensors"))
        let update = try #require(adapter.updates.first { $0.module == "model.layers.0.mlp.gate_proj" })
        let name = "model.layers.0.mlp.gate_proj.weight"
        let w = base.values[name]!
        var differing = 0
        for i in 0..<update.bRows {
            for j in 0..<update.aColumns {
                var delta = 0.0
                for k in 0..<update.rank { delta += update.b[i * update.rank + k] * update.a[k * update.aColumns + j] }
                let deltaBF16 = roundToBF16(Float(update.scale * delta))
                let doubleRounded = roundToBF16(Float(w[i * update.aColumns + j]) + deltaBF16)
                if Double(doubleRounded) != expected.values[name]![i * update.aColumns + j] { differing += 1 }
            }
        }
        #expect(differing > 0)
    }

    func roundToBF16(_ x: Float) -> Float {
        let bits = x.bitPattern
        let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
        return Float(bitPattern: rounded)
    }
}
