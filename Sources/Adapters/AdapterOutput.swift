// An adapter directory (one weights file and adapter_config.json), as combine, extract and
// convert --to write it, under the output policy (TensorIO's OutputTarget): the target is
// checked before any work (inputs, a non-empty directory without --overwrite), the files are
// staged beside it and moved into place together, so a failed command leaves OUT as it was.

import TensorIO

struct AdapterOutput {
    /// Every adapter file loft reads: an earlier adapter's files that the new one does not
    /// rewrite (PEFT's weights under an MLX adapter, say) are removed, so the directory never
    /// holds two adapters. Other files are left alone.
    static let adapterFiles: Set<String> = ["adapter_model.safetensors", "adapter_model.bin", "adapters.safetensors", "adapter_config.json"]
    static let configName = "adapter_config.json"

    let target: OutputTarget

    init(_ path: String, overwrite: Bool, inputs: [String]) throws {
        target = try OutputTarget(path, kind: .directory, overwrite: overwrite, inputs: inputs)
    }

    /// Writes `weights` (safetensors) and the config text; returns the two paths inside OUT.
    func write(weights: String, tensors: [TensorData], metadata: [(key: String, value: String)], config: String) throws -> [String] {
        let staging = try target.stage()
        try SafetensorsWriter.write(to: staging.file(weights), tensors: tensors, metadata: metadata)
        try AtomicOutputFile.write(config, to: staging.file(Self.configName))
        try staging.commit { Self.adapterFiles.contains($0) }
        return [target.file(weights), target.file(Self.configName)]
    }
}
