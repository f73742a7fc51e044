// `loft convert MODEL OUT --dtype mlx-q4 --group-size 64`: a model directory as mlx-lm's
// quantize_model and save write it, for mlx-lm to load:
//
//   model.safetensors (or model-0000N-of-0000M.safetensors)  metadata {"format": "mlx"};
//       every quantized module's `P.weight` packed (U32) with `P.scales` and `P.biases` in
//       the weight's float type, the other tensors as they are;
//   model.safetensors.index.json   mlx-lm's: metadata total_size and total_parameters,
//       weight_map sorted, indented by 4;
//   config.json    the model's, `_name_or_path` dropped, `quantization` and
//       `quantization_config` ({"group_size", "bits", "mode": "affine"}) added, top-level
//       keys sorted, indented by 4 (mlx-lm's save_config);
//   the model directory's other files (tokenizer, generation settings) copied.
//
// Which tensors are quantized is MLXAffine.quantizes (mlx-lm's rule for Linear and Embedding
// layers). Tensors are read, quantized and written one at a time. The writer orders by dtype,
// so a module's scales and biases (float) come long before its packed weight (U32): they are
// computed together in a pass without the codes, and the weight later in a full pass.

import TensorIO

public struct MLXExportSummary: Sendable {
    public var output: String
    public var tensors: Int
    public var quantized: Int
    public var bytesWritten: Int
    public var files: [String]
}

public enum MLXModelExport {
    /// mlx-lm's shard limit (MAX_FILE_SIZE_GB = 5, in GiB).
    public static let defaultMaxShardSize = 5 << 30

    public static func run(source: ModelSource, output: String, parameters: MLXAffine, maxShardSize: Int? = nil,
                           overwrite: Bool, progress: ((Int, Int, String) -> Void)? = nil) throws -> MLXExportSummary {
        let target = try OutputTarget(output, kind: .directory, overwrite: overwrite, inputs: source.inputPaths)
        let reader = source.reader
        var outputs: [TensorInfo] = []
        var quantized = 0
        var denseParameters = 0
        for tensor in reader.tensors {
            denseParameters += tensor.elementCount
            if parameters.quantizes(tensor) {
                let infos = parameters.quantizedInfos(tensor)
                outputs += [infos.weight, infos.scales, infos.biases]
                quantized += 1
            } else {
                outputs.append(tensor)
            }
        }
        let byName = Dictionary(reader.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        // The module last quantized: its three tensors, handed out as the writer asks.
        var cached: (module: String, tensors: [String: TensorData])?
        func produce(_ info: TensorInfo) throws -> TensorData {
            for suffix in [".weight", ".scales", ".biases"] where info.name.hasSuffix(suffix) {
                let weightName = String(info.name.dropLast(suffix.count)) + ".weight"
                guard let dense = byName[weightName], parameters.quantizes(dense), suffix != ".weight" || info.dtype == .U32 else { continue }
                if let hit = cached, hit.module == weightName, let data = hit.tensors[info.name] { return data }
                let values = try reader.data(for: weightName)
                defer { reader.release(weightName) }
                if suffix == ".weight" {
                    return try parameters.quantize(values).weight
                }
                let result = try parameters.scalesAndBiases(values)
                cached = (weightName, [result.scales.info.name: result.scales, result.biases.info.name: result.biases])
                return cached!.tensors[info.name]!
            }
            return try reader.data(for: info.name)
        }
        let shards = ShardedSafetensorsWriter.plan(tensors: outputs, maxShardSize: maxShardSize ?? defaultMaxShardSize)
        let staging = try target.stage()
        var done = 0
        let total = outputs.reduce(0) { $0 + $1.byteCount }
        for shard in shards {
            try SafetensorsWriter.write(to: staging.file(shard.file), tensors: shard.tensors, metadata: [("format", "mlx")]) { info in
                let data = try produce(info)
                done += info.byteCount
                progress?(done, total, info.name)
                if let dense = byName[info.name], !parameters.quantizes(dense) { reader.release(info.name) }
                return data
            }
        }
        try AtomicOutputFile.write(indexText(shards: shards, totalParameters: denseParameters),
                                   to: staging.file(ShardedSafetensorsReader.indexFileName))
        if let side = CheckpointOutput.baseDirectory(source) {
            _ = try CheckpointOutput.copySideFiles(from: side, to: staging, untie: false)
        }
        try AtomicOutputFile.write(configText(source.config, quantization: MLXQuantizationConfig(defaults: parameters)),
                                   to: staging.file(ModelSource.configName))
        let weights = Set(shards.map(\.file) + [ShardedSafetensorsReader.indexFileName])
        let moved = try staging.commit(staleNames: ConversionOutput.isCheckpointFileName)
        let files = moved.filter(weights.contains).map(target.file)
        let bytes = files.reduce(0) { $0 + (PathStatus($1)?.size ?? 0) }
        return MLXExportSummary(output: output, tensors: outputs.count, quantized: quantized, bytesWritten: bytes, files: files)
    }

    /// mlx-lm's save_config text for `config` quantized with `quantization`.
    public static func configText(_ config: JSONValue?, quantization: MLXQuantizationConfig) -> String {
        var members = MLXQuantizationConfig.removingEntries(config?.objectMembers ?? []).filter { $0.key != "_name_or_path" }
        members += [JSONMember("quantization", quantization.json), JSONMember("quantization_config", quantization.json)]
        members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return PythonJSON.dumps(PythonJSONValue(.object(members)), indent: 4, sortKeys: false)
    }

    /// mlx-lm's model.safetensors.index.json.
    static func indexText(shards: [(file: String, tensors: [TensorInfo])], totalParameters: Int) -> String {
        let all = shards.flatMap { shard in shard.tensors.map { ($0, shard.file) } }
        let map = all.sorted { $0.0.name.utf8.lexicographicallyPrecedes($1.0.name.utf8) }.map { JSONMember($0.0.name, .string($0.1)) }
        let total = all.reduce(0) { $0 + $1.0.byteCount }
        let index = JSONValue.object([
            JSONMember("metadata", .object([JSONMember("total_size", .integer(Int64(total))),
                                            JSONMember("total_parameters", .integer(Int64(totalParameters)))])),
            JSONMember("weight_map", .object(map)),
        ])
        return PythonJSON.dumps(PythonJSONValue(index), indent: 4, sortKeys: false)
    }
}
