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

    /// The kernels split their work over the cores (the inputs, and ranges of elements);
    /// on tensors long enough to be split, the results equal a one-thread reference written
    /// from the definitions, bit for bit.
    @Test func parallelKernelsEqualASerialReference() {
        var generator = SeededGenerator(seed: 9)
        let n = 300_001
        let base = (0..<n).map { _ in Float(generator.nextNormal()) }
        let inputs = (0..<3).map { _ in base.map { $0 + Float(generator.nextNormal()) * 0.1 } }
        let weights = [0.6, 0.4, -0.3], densities = [0.5, 0.7, 0.3], gammas = [0.05, 0.1, 0.01]
        let seeds: [UInt64] = [11, 12, 13]
        func reference(_ method: ModelMergeKernels.TaskArithmetic) -> [Float] {
            let deltas: [[Float]] = inputs.indices.map { i in
                var d = zip(inputs[i], base).map { $0 - $1 }
                switch method.sparsification {
                case nil: break
                case .magnitude?: d = ModelMergeKernels.sparsifyByMagnitude(d, density: densities[i], rescale: method.rescale)
                case .random?: d = ModelMergeKernels.sparsifyAtRandom(d, density: densities[i], seed: seeds[i], rescale: method.rescale)
                case .magnitudeOutliers?:
                    let target = Int(densities[i] * Double(n)), top = Int(gammas[i] * Double(n))
                    d = TaskTensors.keepByMagnitude(d, skipLargest: n - max(0, n - target - top) - target, keep: target)
                }
                return d.map { $0 * Float(weights[i]) }
            }
            return (0..<n).map { j in
                var sum: Float = 0, divisor: Float = 0
                if method.consensus != nil {
                    var vote: Float = 0
                    for d in deltas { vote = vote + d[j] }
                    let majority: Float = vote >= 0 ? 1 : -1
                    for (d, w) in zip(deltas, weights) where (d[j] > 0 ? 1 : d[j] < 0 ? -1 : 0) == majority {
                        sum = sum + d[j]; divisor = divisor + Float(w)
                    }
                    if divisor == 0 { divisor = 1 }
                } else {
                    for d in deltas { sum = sum + d[j] }
                    for w in weights { divisor = divisor + Float(w) }
                }
                var m = sum
                if method.normalize { m = m / divisor }
                if method.lambda != 1 { m = m * Float(method.lambda) }
                return base[j] + m
            }
        }
        let methods: [ModelMergeKernels.TaskArithmetic] = [
            .init(sparsification: .magnitude, consensus: .sum, normalize: true, rescale: false, lambda: 1),
            .init(sparsification: .random, consensus: .sum, normalize: false, rescale: true, lambda: 0.8),
            .init(sparsification: .magnitudeOutliers, consensus: nil, normalize: true, rescale: false, lambda: 1),
            .init(sparsification: nil, consensus: nil, normalize: false, rescale: false, lambda: 1),
        ]
        for method in methods {
            let ours = ModelMergeKernels.taskArithmetic(base: base, inputs: inputs, weights: weights, densities: densities,
                                                        gammas: gammas, seeds: seeds, method: method)
            let expected = reference(method)
            #expect(ours.map(\.bitPattern) == expected.map(\.bitPattern), "\(method)")
        }
        // slerp: the same coefficients, then one multiply-add per element.
        let merged = ModelMergeKernels.slerp(t: 0.3, base, inputs[0])
        var dot = 0.0, na = 0.0, nb = 0.0
        for v in base { na += Double(v) * Double(v) }
        for v in inputs[0] { nb += Double(v) * Double(v) }
        na = na.squareRoot(); nb = nb.squareRoot()
        for j in 0..<n { dot += (Double(base[j]) / na) * (Double(inputs[0][j]) / nb) }
        let theta = acos(min(1, max(-1, dot)))
        let tt = Double(Float(0.3))
        let ca = Float(sin((1 - tt) * theta) / sin(theta)), cb = Float(sin(tt * theta) / sin(theta))
        #expect(merged.map(\.bitPattern) == zip(base, inputs[0]).map { (ca * $0 + cb * $1).bitPattern })
        // model_stock, per row (1000 rows of 300) and whole.
        let count = 300_000
        let b0 = Array(base.prefix(count)), xs = inputs.map { Array($0.prefix(count)) }
        for (shape, filterWise) in [([1000, 300], true), ([1000, 300], false)] {
            let stock = ModelMergeKernels.modelStock(base: b0, inputs: xs, shape: shape, filterWise: filterWise)
            let columns = filterWise ? 300 : count
            var expected = [Float](repeating: 0, count: count)
            for r in 0..<(count / columns) {
                let range = r * columns ..< (r + 1) * columns
                var cosines: [Double] = []
                for p in 0..<3 { for q in (p + 1)..<3 {
                    var dpq = 0.0, np = 0.0, nq = 0.0
                    for j in range {
                        let dp = Double(xs[p][j] - b0[j]), dq = Double(xs[q][j] - b0[j])
                        dpq += dp * dq; np += dp * dp; nq += dq * dq
                    }
                    cosines.append(min(1, max(-1, dpq / max(np.squareRoot() * nq.squareRoot(), 1e-6))))
                } }
                let c = cosines.reduce(0, +) / 3
                let t = Float(3 * c / (1 + 2 * c))
                for j in range {
                    let mean = (((0 as Float) + xs[0][j]) + xs[1][j] + xs[2][j]) / 3
                    expected[j] = t * mean + (1 - t) * b0[j]
                }
            }
            #expect(stock.map(\.bitPattern) == expected.map(\.bitPattern), "filter_wise \(filterWise)")
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
