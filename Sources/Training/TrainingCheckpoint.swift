// A resumable checkpoint in DIR/checkpoint/:
//   optimizer.safetensors  the optimizer state with the trained values (adapter factors or
//                          weights), float32 as they are (LoFT's state file, docs/loft.md);
//   trainer.json           {"format": "loft-training-checkpoint", "version": 1, "step",
//                          "method", "rank", "alpha", "targets", "seed", "steps", "history"}.
// No generator state is needed: batches are a function of (seed, step) (Batches.swift).
// Resuming needs the same base, data, method, rank, alpha, targets and seed (checked);
// --steps may grow (the schedule then follows the new total).

import Foundation
import TensorIO

public enum TrainingCheckpoint {
    public static func directory(_ output: String) -> String { SystemPath.join(output, "checkpoint") }

    public static func save(_ trainer: Trainer, outputDirectory: String) throws {
        let directory = directory(outputDirectory)
        try OutputTarget.makeDirectories(directory)
        try trainer.optimizer.saveState(to: SystemPath.join(directory, "optimizer.safetensors"))
        let o = trainer.options
        let json = JSONValue.object([
            JSONMember("format", .string("loft-training-checkpoint")),
            JSONMember("version", .integer(1)),
            JSONMember("step", .integer(Int64(trainer.step))),
            JSONMember("method", .string(o.method.rawValue)),
            JSONMember("rank", .integer(Int64(o.rank))),
            JSONMember("alpha", .double(Double(o.alpha))),
            JSONMember("targets", .array((o.targets ?? []).map { .string($0) })),
            JSONMember("seed", .string(String(o.seed))),
            JSONMember("steps", .integer(Int64(o.steps))),
            JSONMember("history", .array(trainer.history.map(TrainingLog.json))),
        ])
        try TrainingLog.write(JSON.serialize(json, style: .indented) + "\n", to: SystemPath.join(directory, "trainer.json"))
    }

    /// Restores `trainer` (built with the same options) from `outputDirectory`'s checkpoint.
    public static func resume(_ trainer: Trainer, from outputDirectory: String) throws {
        let directory = directory(outputDirectory)
        let jsonPath = SystemPath.join(directory, "trainer.json")
        guard PathStatus.exists(jsonPath) else {
            throw TrainingError.invalidCheckpoint(path: jsonPath, reason: "no checkpoint (trainer.json) there")
        }
        let json: JSONValue
        do { json = try JSONFile.read(jsonPath) } catch let FileError.invalidJSON(_, reason) {
            throw TrainingError.invalidCheckpoint(path: jsonPath, reason: "invalid JSON: \(reason)")
        }
        guard json["format"]?.stringValue == "loft-training-checkpoint", let step = json["step"]?.intValue else {
            throw TrainingError.invalidCheckpoint(path: jsonPath, reason: "not a loft training checkpoint")
        }
        let o = trainer.options
        func mismatch(_ what: String, _ saved: String, _ now: String) throws {
            if saved != now { throw TrainingError.invalidCheckpoint(path: jsonPath, reason: "\(what) was \(saved), now \(now)") }
        }
        try mismatch("--optimizer", json["method"]?.stringValue ?? "?", o.method.rawValue)
        try mismatch("--rank", String(json["rank"]?.intValue ?? -1), String(o.rank))
        try mismatch("alpha", String(json["alpha"]?.doubleValue ?? -1), String(Double(o.alpha)))
        try mismatch("--targets", (json["targets"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ","), (o.targets ?? []).joined(separator: ","))
        try mismatch("--seed", json["seed"]?.stringValue ?? "?", String(o.seed))
        guard step <= o.steps else {
            throw TrainingError.invalidCheckpoint(path: jsonPath, reason: "the checkpoint is at step \(step), beyond --steps \(o.steps)")
        }
        try trainer.optimizer.loadState(from: SystemPath.join(directory, "optimizer.safetensors"))
        let history = (json["history"]?.arrayValue ?? []).compactMap(TrainingLog.entry)
        trainer.restore(step: step, history: history)
    }
}
