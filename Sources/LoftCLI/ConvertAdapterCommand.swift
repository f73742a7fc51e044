// `loft convert ADAPTER_DIR OUT --to peft|mlx`: the adapter half of convert, kept apart from
// the tensor conversion: checks, calls AdapterConversion (Sources/Adapters), reports.

import Adapters
import ArgumentParser
import TensorIO

extension AdapterLayout: ExpressibleByArgument {}

extension ConvertCommand {
    func validateAdapterConversion() throws {
        try refuseTensorOptions(route: "with --to (an adapter conversion)")
        try CommandFailure.requirePath(output, flag: "OUT")
    }

    /// The options that select, rename or cast tensors of a tensor-file conversion, refused on
    /// the routes that do not apply them (adapter conversion; GGUF, which takes --dtype only;
    /// MLX quantization, which also shards and reads --key), except the flags in `keeping`.
    func refuseTensorOptions(route: String, keeping: Set<String> = []) throws {
        let tensorOptions: [(Bool, String)] = [
            (dtypeChoice != nil, "--dtype"), (dtypeAll, "--dtype-all"), (!include.isEmpty, "--include"), (!exclude.isEmpty, "--exclude"),
            (!rename.isEmpty, "--rename"), (shardSize.text != nil, "--max-shard-size"), (compress, "--compress"), (!metadata.isEmpty, "--metadata"),
            (stateDict.key != nil, "--key"), (verify, "--verify"),
        ]
        if let (_, flag) = tensorOptions.first(where: { $0.0 && !keeping.contains($0.1) }) {
            throw ValidationError("\(flag) converts tensor files; it does not apply \(route)")
        }
    }

    func runAdapterConversion(_ layout: AdapterLayout) throws {
        let report = try AdapterConversion.run(input: input, output: output, to: layout, overwrite: overwrite.overwrite)
        if format.json {
            let value = JSONValue.object([
                JSONMember("input", .string(report.input)), JSONMember("output", .string(report.output)),
                JSONMember("from", .string(report.from.rawValue)), JSONMember("to", .string(report.to.rawValue)),
                JSONMember("modules", .integer(Int64(report.modules))), JSONMember("dora", .bool(report.dora)),
                JSONMember("scale", .finite(report.scale)), JSONMember("scales_folded", .integer(Int64(report.folded))),
                JSONMember("num_layers", report.numLayers.map { .integer(Int64($0)) } ?? .null),
                JSONMember("files", .array(report.files.map { .string($0) })),
            ])
            Console.current.out(JSON.serialize(value, style: .indented))
        } else {
            var line = "\(report.input) (\(report.from.rawValue)) -> \(report.output) (\(report.to.rawValue)): \(report.modules) \(report.dora ? "DoRA" : "LoRA") module(s)"
            if let scale = report.scale { line += ", scale \(scale)" + (report.folded > 0 ? " (\(report.folded) module scale(s) folded into lora_b)" : "") }
            if let layers = report.numLayers { line += ", num_layers \(layers)" }
            Console.current.out(line)
        }
    }
}
