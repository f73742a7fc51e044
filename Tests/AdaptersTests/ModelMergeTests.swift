// loft merge --config against mergekit (fixtures/generators/merges.py: tiny GPT-2 and LLaMA,
// mergekit's outputs committed): the deterministic methods give mergekit's bytes, slerp and
// model_stock its values within float32 rounding (torch sums the norms and dot products in
// its own order), and DARE, whose masks are random in both, the same statistics: the share of
// elements every model's mask dropped, and the L1 rescale.

import Foundation
import Testing
import TensorIO
import Compute
@testable import Adapters

enum MergekitFixture {
    static let directory = Repository.path("fixtures/mergekit")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yml") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func merge(_ name: String, in scratch: ScratchDirectory, seed: UInt64 = 0) throws -> TensorReader {
        var options = ModelMergeOptions(config: "\(directory)/\(name).yml", output: scratch.file(name))
        options.seed = seed
        _ = try ModelMerge.run(options)
        return try TensorFile.open(scratch.file("\(name)/model.safetensors"))
    }

    static func expected(_ name: String) throws -> TensorReader {
        try TensorFile.open("\(directory)/expected/\(name).safetensors")
    }

    static func values(_ reader: TensorReader, _ name: String) throws -> [Double] {
        let data = try reader.data(for: name)
        var out = [Double](repeating: 0, count: data.info.elementCount)
        try out.withUnsafeMutableBufferPointer { try HalfWidening.widen(data.info.dtype, from: data.bytes, into: $0) }
        return out
    }

    static func isDeterministic(_ name: String) -> Bool { !name.contains("dare") && !isRounded(name) }
    static func isRounded(_ name: String) -> Bool { name.contains("slerp") || name.contains("model_stock") }
}

@Suite struct ModelMergeTests {
    @Test func fixturesArePresent() {
        #expect(MergekitFixture.cases.count >= 30)
    }

    @Test(arguments: MergekitFixture.cases.filter(MergekitFixture.isDeterministic))
    func bitExactWithMergekit(_ name: String) throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let ours = try MergekitFixture.merge(name, in: scratch)
        let theirs = try MergekitFixture.expected(name)
        #expect(Set(ours.tensors.map(\.name)) == Set(theirs.tensors.map(\.name)))
        for info in theirs.tensors {
            let a = try ours.data(for: info.name), b = try theirs.data(for: info.name)
            #expect(a.info == b.info, "\(name): \(info.name)")
            #expect(a.bytes.elementsEqual(b.bytes), "\(name): \(info.name) differs from mergekit's")
        }
    }

    @Test(arguments: MergekitFixture.cases.filter(MergekitFixture.isRounded))
    func withinFloat32RoundingOfMergekit(_ name: String) throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let ours = try MergekitFixture.merge(name, in: scratch)
        let theirs = try MergekitFixture.expected(name)
        #expect(Set(ours.tensors.map(\.name)) == Set(theirs.tensors.map(\.name)))
        for info in theirs.tensors {
            let a = try MergekitFixture.values(ours, info.name), b = try MergekitFixture.values(theirs, info.name)
            let scale = b.map(abs).max() ?? 1
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 4e-7 * max(scale, 1e-30), "\(name): \(info.name): off by \(worst) (scale \(scale))")
        }
    }

    /// DARE drops each delta element with probability 1 - density, independently per model:
    /// an element is left at the base's value when every model's mask dropped it (and, for
    /// dare_ties, also when the kept ones all disagree with the elected sign). loft's share
    /// of such elements matches mergekit's and the definition, over the whole model.
    @Test(arguments: MergekitFixture.cases.filter { $0.contains("dare") })
    func dareStatisticsMatchMergekit(_ name: String) throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let arch = name.hasPrefix("gpt2") ? "gpt2" : "llama"
        let base = try TensorFile.open("\(MergekitFixture.directory)/\(arch)-base/model.safetensors")
        let ours = try MergekitFixture.merge(name, in: scratch, seed: 11)
        let theirs = try MergekitFixture.expected(name)
        func unchangedShare(_ reader: TensorReader) throws -> Double {
            var same = 0, total = 0
            for info in reader.tensors {
                let merged = try MergekitFixture.values(reader, info.name), original = try MergekitFixture.values(base, info.name)
                same += zip(merged, original).filter { $0 == $1 }.count
                total += merged.count
            }
            return Double(same) / Double(total)
        }
        let density = name.contains("dare_linear") ? 0.5 : 0.6
        let allDropped = pow(1 - density, 3)
        let loft = try unchangedShare(ours), mergekit = try unchangedShare(theirs)
        #expect(abs(loft - mergekit) < 0.02, "\(name): loft leaves \(loft) of the elements at the base, mergekit \(mergekit)")
        if name.contains("dare_linear") { #expect(abs(loft - allDropped) < 0.015, "\(name): \(loft) vs (1 - density)^3 = \(allDropped)") }
        // Different seeds give different masks.
        let other = try MergekitFixture.merge(name, in: ScratchDirectory(), seed: 12)
        let first = ours.tensors[0].name
        #expect(try MergekitFixture.values(ours, first) != MergekitFixture.values(other, first))
    }

    /// mergekit's DARE rescale keeps the L1 norm of each delta (not PEFT's 1 / density), and
    /// keeps each element with probability density.
    @Test func dareRescalesToTheL1Norm() {
        var generator = SeededGenerator(seed: 5)
        let delta = (0..<20_000).map { _ in Float(generator.nextNormal()) }
        var kept = 0
        for seed in 0..<20 as Range<UInt64> {
            let sparse = ModelMergeKernels.sparsifyAtRandom(delta, density: 0.3, seed: seed, rescale: true)
            let before = delta.reduce(0.0) { $0 + abs(Double($1)) }, after = sparse.reduce(0.0) { $0 + abs(Double($1)) }
            #expect(abs(before - after) / before < 1e-5)
            kept += sparse.filter { $0 != 0 }.count
        }
        #expect(abs(Double(kept) / Double(20 * delta.count) - 0.3) < 0.005)
        #expect(ModelMergeKernels.sparsifyAtRandom(delta, density: 0.3, seed: 1, rescale: false).allSatisfy { $0 == 0 || delta.contains($0) })
    }

    @Test func slicesRewriteTheLayerCountAsMergekit() throws {
        for name in ["llama-passthrough", "gpt2-passthrough-bf16", "llama-ties"] {
            let scratch = ScratchDirectory()
            defer { scratch.remove() }
            _ = try MergekitFixture.merge(name, in: scratch)
            let ours = try JSONFile.read(scratch.file("\(name)/config.json"))
            let theirs = try JSONFile.read("\(MergekitFixture.directory)/expected/\(name).json")
            for key in ["num_hidden_layers", "n_layer"] where theirs[key] != nil {
                #expect(ours[key]?.intValue == theirs[key]?.intValue, "\(name): \(key)")
            }
            #expect(PathStatus.exists(scratch.file("\(name)/mergekit_config.yml")))
        }
    }

    /// The sort-free ranking of keepByMagnitude equals a stable sort of the indices by
    /// decreasing magnitude, ties (many here) broken by position.
    @Test func magnitudeRankingMatchesAStableSort() {
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<200 {
            let n = Int(generator.next() % 40) + 1
            let values = (0..<n).map { _ in Double(Int(generator.next() % 7)) - 3 }
            let skip = Int(generator.next() % UInt64(n + 1)), keep = Int(generator.next() % UInt64(n + 2))
            let order = values.indices.sorted { abs(values[$0]) != abs(values[$1]) ? abs(values[$0]) > abs(values[$1]) : $0 < $1 }
            var expected = [Double](repeating: 0, count: n)
            for i in order.dropFirst(skip).prefix(keep) { expected[i] = values[i] }
            #expect(TaskTensors.keepByMagnitude(values, skipLargest: skip, keep: keep) == expected, "\(values) skip \(skip) keep \(keep)")
        }
    }

    /// The same on longer tensors of distinct and repeated values, where the selection
    /// (quickselect) partitions many times.
    @Test func magnitudeRankingMatchesAStableSortOnLongTensors() {
        var generator = SeededGenerator(seed: 5)
        for trial in 0..<40 {
            let n = Int(generator.next() % 3000) + 1
            let values = (0..<n).map { _ in trial % 2 == 0 ? generator.nextUnit() * 2 - 1 : Double(Int(generator.next() % 50)) - 25 }
            let skip = Int(generator.next() % UInt64(n / 3 + 1)), keep = Int(generator.next() % UInt64(n + 1))
            let order = values.indices.sorted { abs(values[$0]) != abs(values[$1]) ? abs(values[$0]) > abs(values[$1]) : $0 < $1 }
            var expected = [Double](repeating: 0, count: n)
            for i in order.dropFirst(skip).prefix(keep) { expected[i] = values[i] }
            #expect(TaskTensors.keepByMagnitude(values, skipLargest: skip, keep: keep) == expected, "n \(n) skip \(skip) keep \(keep)")
        }
    }

    @Test func layerNames() {
        let layer = LayerName("model.layers.12.mlp.up_proj.weight")
        #expect(layer?.template == "model.layers.{}.mlp.up_proj.weight" && layer?.index == 12)
        #expect(LayerName("transformer.h.3.attn.c_attn.bias")?.name(at: 7) == "transformer.h.7.attn.c_attn.bias")
        #expect(LayerName("model.embed_tokens.weight") == nil)
        #expect(LayerName("lm_head.weight") == nil)
    }

    @Test func parsesAFullConfiguration() throws {
        let text = """
            merge_method: slerp
            base_model: base
            slices:
              - sources:
                  - model: base
                    layer_range: [0, 2]
                  - model: {model: {path: other}}
                    layer_range: [2, 4]
                parameters:
                  t: [{filter: self_attn, value: [0, 1]}, {value: 0.5}]
            dtype: bfloat16
            out_dtype: float16
            tokenizer_source: base
            """
        let config = try ModelMergeConfig.parse(text, path: "m.yml")
        #expect(config.method == .slerp && config.usesSlices && config.baseModel == "base")
        #expect(config.slices[0].sources.map(\.model) == ["base", "other"])
        #expect(config.slices[0].sources[1].layerRange == 2..<4)
        #expect(config.dtype == .BF16 && config.outDtype == .F16)
        #expect(config.slices[0].parameters["t"]?.evaluate(tensor: "layers.0.self_attn.q_proj.weight", t: 0.25) == .number(0.25))
        #expect(config.referencedModels == ["base", "other"])
    }

    @Test func parameterSettings() {
        let gradient = ParameterSetting.gradient([.number(0), .number(0.5), .number(1)])
        #expect(gradient.evaluate(tensor: "x", t: 0.25) == .number(0.25))
        #expect(gradient.evaluate(tensor: "x", t: 1) == .number(1))
        let conditional = ParameterSetting.conditions([("self_attn", .value(.number(0.2))), (nil, .value(.number(0.9)))])
        #expect(conditional.evaluate(tensor: "model.layers.0.self_attn.q_proj.weight", t: 0) == .number(0.2))
        #expect(conditional.evaluate(tensor: "model.layers.0.mlp.up_proj.weight", t: 0) == .number(0.9))
        #expect(ParameterSetting.conditions([("mlp", .value(.number(1)))]).evaluate(tensor: "norm", t: 0) == nil)
    }

    @Test(arguments: [
        ("merge_method: frankenmerge\nmodels:\n  - model: a\n", "merge_method frankenmerge: not one of"),
        ("merge_method: ties\nmodels:\n  - model: a\n", "ties needs base_model"),
        ("merge_method: linear\n", "give exactly one of models or slices"),
        ("merge_method: linear\nmodels:\n  - model: a\n    parameters: {wieght: 1}\n", "models[0].parameters.wieght: not a parameter of linear"),
        ("merge_method: linear\nmodels:\n  - model: a\nmodules: {}\n", "modules: per-module merges are not supported"),
        ("merge_method: linear\nmodels:\n  - model: a\nfoo: 1\n", "unknown key foo"),
        ("merge_method: passthrough\nslices:\n  - sources:\n      - {model: a, layer_range: [0, 2]}\n      - {model: b, layer_range: [0, 2]}\n", "passthrough takes one source per slice"),
        ("merge_method: passthrough\nslices:\n  - sources:\n      - {model: a, layer_range: [3, 2]}\n", "layer_range: expected [start, end]"),
        ("merge_method: linear\nslices:\n  - sources:\n      - {model: a, layer_range: [0, 2]}\n      - {model: b, layer_range: [0, 3]}\n", "same number of layers"),
        ("merge_method: linear\nmodels:\n  - model: a\ntokenizer_source: union\n", "only `base` is supported"),
        ("merge_method: linear\nmodels:\n  - model: a+lora\n", "model+LoRA references are not supported"),
        ("merge_method: linear\nmodels:\n  - model: a\ndtype: int8\n", "dtype int8: expected float32"),
        ("merge_method: [linear\n", "not valid YAML"),
        ("- 1\n- 2\n", "expected a mapping"),
    ])
    func configErrorsSayWhatIsWrong(_ text: String, _ message: String) {
        #expect {
            _ = try ModelMergeConfig.parse(text, path: "merge.yml")
        } throws: { error in
            let description = "\(error)"
            return description.hasPrefix("merge.yml: ") && description.contains(message)
        }
    }

    @Test func inputContractsAreCheckedBeforeReading() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let d = MergekitFixture.directory
        let cases = [
            ("merge_method: slerp\nbase_model: \(d)/llama-base\nmodels:\n  - model: \(d)/llama-a\n  - model: \(d)/llama-b\nparameters: {t: 0.5}\n", "slerp merges exactly two models"),
            ("merge_method: model_stock\nbase_model: \(d)/llama-base\nmodels:\n  - model: \(d)/llama-a\n", "model_stock needs base_model and at least two"),
            ("merge_method: ties\nbase_model: \(d)/llama-base\nmodels:\n  - model: \(d)/llama-a\n", "missing required parameter weight"),
            ("merge_method: passthrough\nslices:\n  - sources:\n      - {model: \(d)/llama-a, layer_range: [2, 9]}\n", "the model has 4 layers"),
            ("merge_method: linear\nmodels:\n  - model: \(d)/llama-a\n    parameters: {weight: 1}\n  - model: \(d)/gpt2-a\n    parameters: {weight: 1}\n", "has no tensor"),
        ]
        for (i, (text, message)) in cases.enumerated() {
            let config = scratch.file("c\(i).yml")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            #expect(throws: (any Error).self) { _ = try ModelMerge.run(ModelMergeOptions(config: config, output: scratch.file("out\(i)"))) }
            do { _ = try ModelMerge.run(ModelMergeOptions(config: config, output: scratch.file("out\(i)"))) } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
            #expect(!PathStatus.exists(scratch.file("out\(i)")), "a failed merge leaves nothing at OUT")
        }
    }
}
