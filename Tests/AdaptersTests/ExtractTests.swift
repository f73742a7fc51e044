// loft extract: on a "fine-tuned" tiny LLaMA made here from the fixture base (one module
// changed by an exact rank-2 update, three by full-rank noise, a norm and an embedding row),
// each LoRA module's error is the Eckart-Young best rank-r error, also when the randomized
// SVD runs; merging the adapter back with loft merge reproduces TUNED within the reported
// error; --energy picks per-module ranks into rank_pattern; PEFT loads the adapter.

import Compute
import Foundation
import Testing
import TensorIO
@testable import Adapters

enum ExtractFixture {
    static let base = Fixture.path("llama-base.safetensors")
    static let lowRank = "model.layers.0.self_attn.q_proj.weight"
    static let noisy = ["model.layers.0.self_attn.v_proj.weight", "model.layers.1.mlp.gate_proj.weight", "model.layers.1.self_attn.o_proj.weight"]

    /// TUNED = BASE with the changes above, written into `scratch`.
    static func tuned(in scratch: ScratchDirectory) throws -> String {
        let loaded = try LoadedTensors(base)
        var generator = SeededGenerator(seed: 11)
        var tensors: [TensorData] = []
        for name in try TensorFile.open(base).tensors.map(\.name) {
            var values = loaded.values[name]!
            let shape = loaded.infos[name]!.shape
            if name == lowRank {
                let u = (0..<(shape[0] * 2)).map { _ in generator.nextNormal() * 0.2 }
                let v = (0..<(2 * shape[1])).map { _ in generator.nextNormal() * 0.2 }
                for i in 0..<shape[0] { for j in 0..<shape[1] { values[i * shape[1] + j] += u[i * 2] * v[j] + u[i * 2 + 1] * v[shape[1] + j] } }
            } else if noisy.contains(name) {
                values = values.map { $0 + generator.nextNormal() * 0.01 }
            } else if name == "model.norm.weight" {
                values = values.map { $0 + 0.1 }
            } else if name == "model.embed_tokens.weight" {
                for j in 0..<shape[1] { values[3 * shape[1] + j] += 0.5 }
            }
            tensors.append(f32Tensor(name, shape, values.map { Float($0) }))
        }
        let path = scratch.file("tuned.safetensors")
        try SafetensorsWriter.write(to: path, tensors: tensors, metadata: [("format", "pt")])
        return path
    }

    /// GPT-2 (Conv1D weights stored in x out): c_attn and c_fc weights noisy, c_attn's bias and
    /// ln_1's weight shifted.
    static func tunedGPT2(in scratch: ScratchDirectory) throws -> String {
        let path = Fixture.path("gpt2-base.safetensors")
        let loaded = try LoadedTensors(path)
        var generator = SeededGenerator(seed: 12)
        var tensors: [TensorData] = []
        for name in try TensorFile.open(path).tensors.map(\.name) {
            var values = loaded.values[name]!
            if ["h.0.attn.c_attn.weight", "h.1.mlp.c_fc.weight"].contains(name) { values = values.map { $0 + generator.nextNormal() * 0.01 } }
            if ["h.0.attn.c_attn.bias", "h.0.ln_1.weight"].contains(name) { values = values.map { $0 + 0.1 } }
            tensors.append(f32Tensor(name, loaded.infos[name]!.shape, values.map { Float($0) }))
        }
        let out = scratch.file("tuned-gpt2.safetensors")
        try SafetensorsWriter.write(to: out, tensors: tensors, metadata: [("format", "pt")])
        return out
    }

    /// The best rank-r relative error of TUNED - BASE for one tensor (Eckart-Young).
    static func bestError(_ name: String, tuned: String, rank: Int) throws -> Double {
        let t = try LoadedTensors(tuned), b = try LoadedTensors(base)
        let shape = b.infos[name]!.shape
        let delta = zip(t.values[name]!, b.values[name]!).map { Double(Float($0)) - $1 }
        let s = SVD.thin(delta, rows: shape[0], columns: shape[1]).s
        let total = s.reduce(0) { $0 + $1 * $1 }
        return (s.dropFirst(rank).reduce(0) { $0 + $1 * $1 } / total).squareRoot()
    }
}

@Suite struct ExtractTests {
    @Test(arguments: [1024, 8])
    func loraErrorIsTheEckartYoungBestAndMergingBackReproducesTuned(denseLimit: Int) throws {
        let scratch = ScratchDirectory()
        let tuned = try ExtractFixture.tuned(in: scratch)
        var options = ExtractOptions(base: ExtractFixture.base, tuned: tuned, output: scratch.file("lora"), rank: 4)
        options.denseLimit = denseLimit
        let report = try LoraExtraction.run(options)
        #expect(report.unchanged == 15)
        let kinds = Dictionary(uniqueKeysWithValues: report.modules.map { ($0.tensor, $0.kind) })
        #expect(kinds == [ExtractFixture.lowRank: .lora, ExtractFixture.noisy[0]: .lora, ExtractFixture.noisy[1]: .lora,
                          ExtractFixture.noisy[2]: .lora, "model.norm.weight": .full, "model.embed_tokens.weight": .full])

        let merged = scratch.file("merged.safetensors")
        try merge(base: ExtractFixture.base, adapters: [AdapterSource(path: scratch.file("lora"))], out: merged)
        let back = try LoadedTensors(merged), want = try LoadedTensors(tuned), base = try LoadedTensors(ExtractFixture.base)
        for module in report.modules {
            let d = zip(want.values[module.tensor]!, base.values[module.tensor]!).map { $0 - $1 }
            let e = zip(back.values[module.tensor]!, want.values[module.tensor]!).map { $0 - $1 }
            let norm = { (x: [Double]) in x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            let actual = norm(e) / norm(d)
            if module.kind == .full {
                #expect(actual == 0, "\(module.tensor)")
            } else if module.tensor == ExtractFixture.lowRank {
                // Exactly rank 2: only float32 rounding is left.
                #expect(module.relativeError < 1e-6 && actual < 1e-6, "\(module.tensor): \(module.relativeError), \(actual)")
            } else {
                let best = try ExtractFixture.bestError(module.tensor, tuned: tuned, rank: 4)
                #expect(abs(module.relativeError - best) <= 0.01 * best, "\(module.tensor): reported \(module.relativeError), best \(best)")
                #expect(abs(actual - module.relativeError) <= 0.01 * module.relativeError, "\(module.tensor): merged back \(actual), reported \(module.relativeError)")
            }
        }
    }

    @Test func energyChoosesPerModuleRanksWrittenAsRankPattern() throws {
        let scratch = ScratchDirectory()
        let tuned = try ExtractFixture.tuned(in: scratch)
        var options = ExtractOptions(base: ExtractFixture.base, tuned: tuned, output: scratch.file("lora"), rank: 8)
        options.energy = 0.5
        options.targets = ["q_proj", "v_proj"]
        let report = try LoraExtraction.run(options)
        let q = try #require(report.modules.first { $0.tensor == ExtractFixture.lowRank })
        #expect(q.rank! <= 2)
        #expect(report.modules.first { $0.tensor == "model.layers.1.mlp.gate_proj.weight" }?.kind == .skipped)
        let adapter = try Adapter(directory: scratch.file("lora"))
        for module in report.modules where module.kind == .lora {
            #expect(adapter.updates.first { $0.module == module.module }?.rank == module.rank)
            // The rank kept holds at least half the energy, one fewer would not.
            let s = SVD.thin(try deltaOf(module.tensor, tuned: tuned), rows: module.shape[0], columns: module.shape[1]).s
            let total = s.reduce(0) { $0 + $1 * $1 }
            #expect(s.prefix(module.rank!).reduce(0) { $0 + $1 * $1 } >= 0.5 * total)
            #expect(s.prefix(module.rank! - 1).reduce(0) { $0 + $1 * $1 } < 0.5 * total)
        }
        #expect(adapter.updates.allSatisfy { $0.scale == 1 })
    }

    func deltaOf(_ name: String, tuned: String) throws -> [Double] {
        let t = try LoadedTensors(tuned), b = try LoadedTensors(ExtractFixture.base)
        return zip(t.values[name]!, b.values[name]!).map { $0 - $1 }
    }

    @Test func identicalCheckpointsHaveNothingToExtract() throws {
        let scratch = ScratchDirectory()
        let error = adapterError { _ = try LoraExtraction.run(ExtractOptions(base: ExtractFixture.base, tuned: ExtractFixture.base, output: scratch.file("x"), rank: 2)) }
        guard case let .invalidOutput(_, reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("nothing to extract"))
        #expect(scratch.contents().isEmpty)
    }

    /// PEFT loads the adapter (target_modules, modules_to_save, a LoRA module's bias, GPT-2's
    /// Conv1D) and its merge_and_unload equals loft merge's.
    @Test(.requiresPython("peft", "torch", "transformers", "safetensors"), arguments: ["llama", "gpt2"])
    func peftLoadsTheExtractedAdapter(arch: String) throws {
        let scratch = ScratchDirectory()
        let base = arch == "llama" ? ExtractFixture.base : Fixture.path("gpt2-base.safetensors")
        let tuned = arch == "llama" ? try ExtractFixture.tuned(in: scratch) : try ExtractFixture.tunedGPT2(in: scratch)
        let report = try LoraExtraction.run(ExtractOptions(base: base, tuned: tuned, output: scratch.file("lora"), rank: 4))
        if arch == "gpt2" {
            #expect(report.modules.map(\.kind) == [.lora, .bias, .full, .lora], "\(report.modules.map { ($0.tensor, $0.kind) })")
        }
        let merged = scratch.file("merged.safetensors")
        try merge(base: base, adapters: [AdapterSource(path: scratch.file("lora"))], out: merged)
        let script = """
            import sys
            sys.path.insert(0, sys.argv[1] + "/fixtures")
            from generators.adapters import tiny_gpt2, tiny_llama
            from peft import PeftModel
            from safetensors.numpy import load_file
            model = PeftModel.from_pretrained(tiny_llama() if sys.argv[4] == "llama" else tiny_gpt2(), sys.argv[2]).merge_and_unload()
            ours = load_file(sys.argv[3])
            state = {k.removeprefix("transformer."): v for k, v in model.state_dict().items()} if sys.argv[4] == "gpt2" else model.state_dict()
            worst = max(abs(state[k].detach().numpy() - v).max() for k, v in ours.items())
            print(worst)
            """
        let output = try Python.output(script, [Repository.root.path, scratch.file("lora"), merged, arch])
        let worst = try #require(Double(output.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(worst < 1e-6, "max abs difference \(worst)")
    }
}
