// How much memory a training run will allocate on top of the loaded model, estimated before
// any of it is allocated, so a run that cannot fit is refused with a message instead of
// being killed (or swapping for minutes) partway through.
//
// Counted, in float32: per adapted projection its two factors with their gradients and
// AdamW's two moments (LoFT's r x r state is small beside them); for full fine-tuning each
// trainable parameter's gradient and two moments (and its widening to float32 when the
// base is held in 16 bits); per token of a batch, the inputs and
// outputs of every projection (the activations forward keeps and backward's gradient
// buffers are of that size, within a small factor); the head's block of 512 rows x vocab.
// It is a floor, not a promise: the run needs at least this much.

import Foundation
import Models

public enum MemoryEstimate {
    /// Bytes a run of `options` on `model` with `rows` = batch · sequence tokens per step (or
    /// batch rows for an MLP) will allocate beyond the model's own weights.
    public static func trainingBytes(model: TrainableModel, options: TrainingOptions, rows: Int, vocabulary: Int = 0) throws -> Double {
        let targets = options.targets ?? model.defaultTargets
        var floats = 0.0
        if options.method == .adamw {
            for parameter in model.parameters
            where targets.contains("all") || targets.contains(where: { moduleMatches(parameter.modulePath, target: $0) }) {
                floats += 3 * Double(parameter.count)
                // A weight held in 16 bits or quantized becomes float32 when trained.
                if parameter.compact != nil { floats += Double(4 * parameter.count - parameter.storageBytes) / 4 }
            }
        } else {
            for projection in try model.projections(matching: targets) {
                floats += 4 * Double(options.rank) * Double(projection.inFeatures + projection.outFeatures)
            }
        }
        let perRow = model.projections.reduce(0) { $0 + $1.inFeatures + $1.outFeatures }
        floats += Double(rows) * Double(perRow)
        floats += Double(min(rows, 512)) * Double(vocabulary)
        return 4 * floats
    }

    /// The memory the system can give without swapping (MemAvailable), nil when unknown.
    public static func availableBytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kilobytes = Double(fields[1]) { return kilobytes * 1024 }
        }
        return nil
    }

    /// Throws when the estimate exceeds the available memory.
    static func check(model: TrainableModel, options: TrainingOptions, rows: Int, vocabulary: Int) throws {
        let needed = try trainingBytes(model: model, options: options, rows: rows, vocabulary: vocabulary)
        guard let available = availableBytes(), needed > available else { return }
        throw TrainingError.memoryExceeded(needed: needed, available: available)
    }
}
