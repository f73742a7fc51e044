// Which input tensors make each output tensor, as mergekit's planner decides it, without an
// architecture table: a tensor whose name has a layer index (`h.3.`, `layers.3.`, `blocks.3.`,
// `layer.3.`) belongs to that layer; the others are "pre" (embeddings: the name mentions embed,
// wte or wpe) or "post" (final norm, head).
//
//   output = pre tensors of the first slice's sources
//          + for each slice, for each layer offset o: the layer (start_i + o) of every source i,
//            renumbered to the output's running layer index
//          + post tensors of the last slice's sources
//
// The `models:` form is one slice over every layer. Gradient parameters are read at
// t = o / (layers - 1) (1 for a one-layer slice); pre and post tensors at t = 0.

import TensorIO

struct LayerName: Hashable {
    /// The name with the layer index replaced by "{}".
    var template: String
    var index: Int

    static let containers: Set<String> = ["h", "layers", "blocks", "layer"]

    init?(_ name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        for i in 1..<max(1, parts.count) where LayerName.containers.contains(String(parts[i - 1])) {
            if let index = Int(parts[i]), parts[i].allSatisfy(\.isNumber), i + 1 < parts.count {
                var p = parts.map(String.init)
                p[i] = "{}"
                self.template = p.joined(separator: ".")
                self.index = index
                return
            }
        }
        return nil
    }

    func name(at layer: Int) -> String { template.replacingOccurrences(of: "{}", with: String(layer)) }

    static func isPre(_ name: String) -> Bool {
        name.contains("embed") || name.contains("wte") || name.contains("wpe")
    }
}

struct PlannedTensor {
    var output: String
    /// (model path, tensor name in that model), in the slice's source order.
    var inputs: [(model: String, tensor: String)]
    /// Index into inputs of the base model, if it is one of them.
    var baseIndex: Int?
    var slice: Int
    var t: Double
}

enum ModelMergePlanner {
    /// The sources of each slice, the `models:` form completed with the base (when it is not
    /// listed) and its layer ranges filled in from the models.
    static func normalizedSlices(_ config: ModelMergeConfig, layers: (String) throws -> Int) throws -> [OutputSlice] {
        try config.slices.map { slice in
            var s = slice
            if !config.usesSlices, let base = config.baseModel, !s.sources.contains(where: { $0.model == base }) {
                s.sources.append(SliceSource(model: base, layerRange: nil, parameters: [:]))
            }
            for i in s.sources.indices where s.sources[i].layerRange == nil {
                s.sources[i].layerRange = 0 ..< (try layers(s.sources[i].model))
            }
            return s
        }
    }

    /// The number of layers of a model: one more than the largest layer index of its tensors.
    static func layerCount(_ reader: TensorReader) -> Int {
        reader.tensors.compactMap { LayerName($0.name)?.index }.max().map { $0 + 1 } ?? 0
    }

    static func plan(config: ModelMergeConfig, slices: [OutputSlice], readers: [String: TensorReader]) throws -> [PlannedTensor] {
        func fail(_ problem: String) -> ModelMergeConfigError { ModelMergeConfigError(path: "", problem: problem) }
        func baseIndex(_ slice: OutputSlice) -> Int? {
            guard let base = slice.baseModel ?? config.baseModel else { return nil }
            return slice.sources.firstIndex { $0.model == base }
        }
        func names(_ model: String) -> [String] { readers[model]!.tensors.map(\.name) }
        func has(_ model: String, _ tensor: String) -> Bool { readers[model]!.info(for: tensor) != nil }

        var planned: [PlannedTensor] = []
        // Pre and post tensors: those of the first (last) slice's first source, taken from every
        // source of that slice; a tensor the others lack (a tied head) is skipped, as mergekit
        // skips its optional weights.
        func edge(_ sliceIndex: Int, pre: Bool) throws {
            let slice = slices[sliceIndex]
            for name in names(slice.sources[0].model) where LayerName(name) == nil && LayerName.isPre(name) == pre {
                let missing = slice.sources.filter { !has($0.model, name) }
                if !missing.isEmpty {
                    if name == "lm_head.weight" { continue }
                    throw fail("\(missing[0].model): has no tensor \(name) (present in \(slice.sources[0].model))")
                }
                planned.append(PlannedTensor(output: name, inputs: slice.sources.map { ($0.model, name) },
                                             baseIndex: baseIndex(slice), slice: sliceIndex, t: 0))
            }
        }
        try edge(0, pre: true)
        var outputLayer = 0
        for (sliceIndex, slice) in slices.enumerated() {
            let first = slice.sources[0]
            let length = first.layerRange!.count
            for source in slice.sources {
                let available = layerCount(readers[source.model]!)
                if source.layerRange!.upperBound > available {
                    throw fail("slices[\(sliceIndex)]: \(source.model): layer_range \(source.layerRange!.lowerBound)..<\(source.layerRange!.upperBound) but the model has \(available) layers")
                }
            }
            for offset in 0..<length {
                let t = length > 1 ? Double(offset) / Double(length - 1) : 1
                let layer = first.layerRange!.lowerBound + offset
                let templates = names(first.model).compactMap { LayerName($0) }.filter { $0.index == layer }
                for template in templates {
                    let inputs = try slice.sources.map { source -> (String, String) in
                        let name = template.name(at: source.layerRange!.lowerBound + offset)
                        guard has(source.model, name) else { throw fail("\(source.model): has no tensor \(name)") }
                        return (source.model, name)
                    }
                    planned.append(PlannedTensor(output: template.name(at: outputLayer), inputs: inputs,
                                                 baseIndex: baseIndex(slice), slice: sliceIndex, t: t))
                }
                outputLayer += 1
            }
        }
        try edge(slices.count - 1, pre: false)
        return planned
    }
}
