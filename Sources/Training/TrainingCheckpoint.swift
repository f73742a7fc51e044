// A resumable checkpoint in DIR/checkpoint/:
//   optimizer.safetensors  the optimizer state with the trained values (adapter factors or
//                          weights), float32 as they are (LoFT's state file, docs/loft.md);
//   trainer.json           {"format": "loft-training-checkpoint", "version": 1, "step",
//                          "method", "rank", "alpha", "targets", "seed", "steps", "history"}.
// No generator state is needed: batches are a function of (seed, step) (Batches.swift).
// Resuming needs the same base, data, method, rank, alpha, targets and seed (checked);
// --steps may grow (the schedule then follows the new total).
//
// A checkpoint is replaced whole, never file by file: the new one is written to
// checkpoint.partial/, the old one renamed to checkpoint.previous/, the new one into place,
// then the old one removed. A run killed at any point (a lost MPI rank makes mpirun end the
// writer too) leaves checkpoint/ or, between the two renames, checkpoint.previous/ complete;
// resuming reads whichever is there.

import Foundation
import TensorIO

public enum TrainingCheckpoint {
    public static func directory(_ output: String) -> String { SystemPath.join(output, "checkpoint") }

    static func partial(_ output: String) -> String { SystemPath.join(output, "checkpoint.partial") }
    static func previous(_ output: String) -> String { SystemPath.join(output, "checkpoint.previous") }

    public static func save(_ trainer: Trainer, outputDirectory: String) throws {
        let final = directory(outputDirectory), partial = partial(outputDirectory), previous = previous(outputDirectory)
        let files = FileManager.default
        if PathStatus.exists(partial) { try files.removeItem(atPath: partial) }
        try write(trainer, to: partial)
        if PathStatus.exists(final) {
            if PathStatus.exists(previous) { try files.removeItem(atPath: previous) }
            try files.moveItem(atPath: final, toPath: previous)
        }
        try files.moveItem(atPath: partial, toPath: final)
        if PathStatus.exists(previous) { try files.removeItem(atPath: previous) }
    }

    static func write(_ trainer: Trainer, to directory: String) throws {
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
        var directory = directory(outputDirectory)
        if !PathStatus.exists(directory), PathStatus.exists(previous(outputDirectory)) { directory = previous(outputDirectory) }
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
