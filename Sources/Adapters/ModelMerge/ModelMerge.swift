// `loft merge --config merge.yml`: whole-model merges as mergekit defines them. The
// configuration is parsed and checked (ModelMergeConfig), every model opened (ModelSource,
// mapped, nothing read yet), the output planned (ModelMergePlanner), then streamed: for each
// output tensor the same-named tensor of each input is read, merged (ModelMergeKernels) and
// handed to the writer, and the inputs' pages are dropped before the next tensor. Memory is
// a few copies of the largest tensor, whatever the size of the models.
//
// The output is a directory as mergekit writes it (model.safetensors, or shards of at most
// --max-shard-size with an index; config.json and tokenizer from the base model, or the
// first model without one; the number of layers rewritten for slices; mergekit_config.yml),
// or one .safetensors / .npz file.

import Foundation
import TensorIO

public struct ModelMergeOptions: Sendable {
    public var config: String
    public var output: String
    public var maxShardSize: Int?
    public var overwrite = false
    /// Seeds DARE's random masks (mixed with each tensor's name and the model's position).
    public var seed: UInt64 = 0

    public init(config: String, output: String) {
        self.config = config
        self.output = output
    }
}

public struct ModelMergeReport: Sendable {
    public var method: ModelMergeMethod
    public var models: [String]
    public var baseModel: String?
    public var output: String
    public var layers: Int
    public var tensorsMerged = 0
    public var bytesWritten = 0
    public var files: [String] = []
}

public enum ModelMerge {
    public static func run(_ options: ModelMergeOptions, progress: ((Int, Int) -> Void)? = nil) throws -> ModelMergeReport {
        do {
            return try merge(options, progress: progress)
        } catch var error as ModelMergeConfigError where error.path.isEmpty {
            // Problems found while planning or merging are the configuration's.
            error.path = options.config
            throw error
        }
    }

    static func merge(_ options: ModelMergeOptions, progress: ((Int, Int) -> Void)?) throws -> ModelMergeReport {
        let config = try ModelMergeConfig.read(options.config)
        let layout = try AdapterMerge.outputLayout(options.output, maxShardSize: options.maxShardSize)
        var sources: [String: ModelSource] = [:]
        for path in config.referencedModels {
            do { sources[path] = try ModelSource.open(path) } catch {
                throw ModelMergeConfigError(path: options.config, problem: "model \(path): \(error)")
            }
        }
        let readers = sources.mapValues(\.reader)
        let slices = try ModelMergePlanner.normalizedSlices(config) { ModelMergePlanner.layerCount(readers[$0]!) }
        try checkInputCounts(config, slices: slices, path: options.config)
        let planned = try ModelMergePlanner.plan(config: config, slices: slices, readers: readers)
        let inputs = config.referencedModels.flatMap { sources[$0]!.inputPaths } + [options.config]
        let target = try layout.target(overwrite: options.overwrite, inputs: inputs)

        // Output dtypes: out_dtype, else dtype, else the first input's.
        let outputs = try planned.map { tensor -> TensorInfo in
            let first = readers[tensor.inputs[0].model]!.info(for: tensor.inputs[0].tensor)!
            for (model, name) in tensor.inputs.dropFirst() {
                let info = readers[model]!.info(for: name)!
                if info.shape != first.shape {
                    throw ModelMergeConfigError(path: model, problem: "\(name) has shape \(info.shape), \(tensor.inputs[0].model) has \(first.shape)")
                }
            }
            guard ModelMergeTensors.floatTypes.contains(first.dtype) else {
                throw ModelMergeConfigError(path: tensor.inputs[0].model, problem: "\(tensor.inputs[0].tensor): dtype \(first.dtype) is not a float type")
            }
            return TensorInfo(name: tensor.output, dtype: config.outDtype ?? config.dtype ?? first.dtype, shape: first.shape)
        }

        let donorPath = config.baseModel ?? config.referencedModels[0]
        let donor = sources[donorPath]!
        var report = ModelMergeReport(method: config.method, models: config.referencedModels, baseModel: config.baseModel,
                                      output: options.output, layers: slices.reduce(0) { $0 + $1.sources[0].layerRange!.count })
        let total = outputs.reduce(0) { $0 + $1.byteCount }
        // The writers choose the order (safetensors sorts by name).
        var byName: [String: Int] = [:]
        for (i, tensor) in planned.enumerated() { byName[tensor.output] = i }
        var pending: [(String, String)] = []

        func produce(_ info: TensorInfo) throws -> TensorData {
            for (model, name) in pending { readers[model]!.release(name) }
            let tensor = planned[byName[info.name]!]
            let data = try tensor.inputs.map { try readers[$0.model]!.data(for: $0.tensor) }
            pending = tensor.inputs
            let result = try ModelMergeTensors.merge(tensor, data: data, output: info, config: config, slices: slices, seed: options.seed) { i in
                readers[tensor.inputs[i].model]!.release(tensor.inputs[i].tensor)
            }
            report.tensorsMerged += 1
            report.bytesWritten += info.byteCount
            progress?(report.bytesWritten, total)
            return result
        }

        if let files = try CheckpointOutput.writeFile(layout, tensors: outputs, metadata: [("format", "pt")], data: produce) {
            report.files = files
        } else {
            let plan = ShardedSafetensorsWriter.plan(tensors: outputs, maxShardSize: options.maxShardSize ?? Int.max)
            let staging = try target.stage()
            for shard in plan {
                try SafetensorsWriter.write(to: staging.file(shard.file), tensors: shard.tensors, metadata: [("format", "pt")], data: produce)
            }
            var written = plan.map(\.file)
            if plan.count > 1 {
                let json = ShardedSafetensorsWriter.indexText(shards: plan.map { ($0.file, $0.tensors) }, metadata: [])
                try AtomicOutputFile.write(json, to: staging.file(ShardedSafetensorsReader.indexFileName))
                written.append(ShardedSafetensorsReader.indexFileName)
            }
            if let side = CheckpointOutput.baseDirectory(donor) {
                _ = try CheckpointOutput.copySideFiles(from: side, to: staging, untie: false)
            }
            if let text = try outputConfig(donor, config: config, layers: report.layers) {
                try AtomicOutputFile.write(text, to: staging.file(ModelSource.configName))
            }
            try AtomicOutputFile.write(config.text, to: staging.file("mergekit_config.yml"))
            let moved = try staging.commit(staleNames: ConversionOutput.isCheckpointFileName)
            report.files = moved.filter(Set(written).contains).map(target.file)
        }
        for (model, name) in pending { readers[model]!.release(name) }
        return report
    }

    /// mergekit's input contracts, checked per slice before anything is read.
    static func checkInputCounts(_ config: ModelMergeConfig, slices: [OutputSlice], path: String) throws {
        for (i, slice) in slices.enumerated() {
            let at = config.usesSlices ? "slices[\(i)]: " : ""
            let base = slice.baseModel ?? config.baseModel
            let hasBase = base.map { b in slice.sources.contains { $0.model == b } } ?? false
            func fail(_ problem: String) -> ModelMergeConfigError { ModelMergeConfigError(path: path, problem: at + problem) }
            switch config.method {
            case .slerp:
                guard slice.sources.count == 2, hasBase else { throw fail("slerp merges exactly two models, one of them base_model (got \(slice.sources.count))") }
            case .modelStock:
                guard slice.sources.count >= 3, hasBase else { throw fail("model_stock needs base_model and at least two other models") }
            case .passthrough:
                guard slice.sources.count == 1 else { throw fail("passthrough takes exactly one model per slice") }
            case .linear:
                break
            default:
                guard hasBase else { throw fail("\(config.method.rawValue) needs base_model among the inputs") }
            }
        }
    }

    /// The donor's config.json with the layer count of a sliced model, and torch_dtype set to
    /// dtype / out_dtype, as mergekit writes it; nil when nothing changes or there is none.
    static func outputConfig(_ donor: ModelSource, config: ModelMergeConfig, layers: Int) throws -> String? {
        guard let path = donor.configPath, donor.ownsDirectory, case var .object(members) = try JSONFile.read(path) else { return nil }
        var changed = false
        if config.usesSlices {
            for key in ["num_hidden_layers", "n_layer", "num_layers"] {
                if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = .integer(Int64(layers)); changed = true }
            }
        }
        if let dtype = config.outDtype ?? config.dtype {
            let name = [DType.F32: "float32", .F16: "float16", .BF16: "bfloat16", .F64: "float64"][dtype]!
            for key in ["torch_dtype", "dtype"] {
                if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = .string(name); changed = true }
            }
        }
        guard changed else { return nil }
        return PythonJSON.dumps(PythonJSONValue(.object(members)), indent: 2, sortKeys: true) + "\n"
    }
}
