// `loft experiment compare` on the tiny fixture GPT-2: 2 methods x 1 rank x 2 learning rates
// x 1 seed x 3 steps. The files and the table; a rerun keeps finished runs (and trains
// only the missing ones); other settings are refused, --overwrite starts over.

import Experiments
import Foundation
import Testing
@testable import LoftCLI
import TensorIO

@Suite struct CompareCommandTests {
    static let gpt2 = Repo.root.appendingPathComponent("fixtures/training/gpt2").path
    static let tokens = Repo.root.appendingPathComponent("fixtures/training/tokens.npy").path
    static let runIDs = ["loft-r2-lr0.001-s0", "loft-r2-lr0.01-s0", "lora-r2-lr0.001-s0", "lora-r2-lr0.01-s0"]

    static func arguments(_ out: String, steps: String = "3") -> [String] {
        ["experiment", "compare", "--base", gpt2, "--data", tokens, "--eval-fraction", "0.25", "--methods", "loft,lora",
         "--ranks", "2", "--lrs", "1e-3,1e-2", "--seeds", "1", "--steps", steps, "--batch", "2", "--seq", "16", "--out", out]
    }

    static func modified(_ path: String) throws -> Date {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
    }

    @Test func runsTheGridWritesTheReportAndResumes() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("compare")
        let first = loft(Self.arguments(out))
        #expect(first.status == 0, "\(first.stderr)")

        // The files, and one finished run per directory.
        for name in ["compare.json", "results.csv", "results.json", "table.md", "lr-loft.svg", "lr-lora.svg", "curves-r2.svg"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name)")
        }
        for id in Self.runIDs {
            for name in ["result.json", "log.csv", "adapter_model.safetensors", "adapter_config.json"] {
                #expect(FileManager.default.fileExists(atPath: "\(out)/runs/\(id)/\(name)"), "\(id)/\(name)")
            }
        }
        let csv = try String(contentsOfFile: out + "/results.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5)
        #expect(csv.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false)[8] == "3" })

        // The table: one row per method (rank 2), its best rate the lower mean loss of the two.
        let json = try JSON.parse(try String(contentsOfFile: out + "/results.json", encoding: .utf8))
        let runs = try #require(json["runs"]?.arrayValue)
        #expect(runs.count == 4)
        let initial = Set(runs.compactMap { $0["initial_eval_loss"]?.doubleValue })
        #expect(initial.count == 1, "every run starts from the same model on the same held-out data")
        let best = try #require(json["best"]?.arrayValue)
        #expect(best.map { $0["method"]?.stringValue } == ["loft", "lora"])
        for row in best {
            let method = try #require(row["method"]?.stringValue)
            let losses = runs.filter { $0["method"]?.stringValue == method }
                .map { (lr: $0["lr"]!.doubleValue!, loss: $0["eval_loss"]?.doubleValue ?? .infinity) }
            let winner = try #require(losses.min { $0.loss < $1.loss })
            #expect(row["best_lr"]?.doubleValue == winner.lr)
            #expect(row["eval_loss_mean"]?.doubleValue == winner.loss)
            #expect(row["seeds"]?.intValue == 1)
        }
        let table = try String(contentsOfFile: out + "/table.md", encoding: .utf8)
        #expect(table.contains("| loft | 2 |") && table.contains("| lora | 2 |"))
        #expect(first.stdout.contains("best lr") && first.stdout.contains("loft"), "\(first.stdout)")

        // A rerun trains nothing: every run directory is left as it was.
        let logs = try Self.runIDs.map { try Self.modified("\(out)/runs/\($0)/log.csv") }
        let again = loft(Self.arguments(out))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("4 of 4 runs were done earlier"), "\(again.stdout)")
        #expect(try Self.runIDs.map { try Self.modified("\(out)/runs/\($0)/log.csv") } == logs)
        #expect(try String(contentsOfFile: out + "/table.md", encoding: .utf8) == table)

        // A missing result is trained again, the others are kept.
        try FileManager.default.removeItem(atPath: "\(out)/runs/\(Self.runIDs[1])/result.json")
        let partial = loft(Self.arguments(out))
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(partial.stdout.contains("3 of 4 runs were done earlier"), "\(partial.stdout)")
        #expect(try Self.modified("\(out)/runs/\(Self.runIDs[0])/log.csv") == logs[0])
        #expect(FileManager.default.fileExists(atPath: "\(out)/runs/\(Self.runIDs[1])/result.json"))

        // Other shared settings: refused without --overwrite; with it, every run starts over.
        let other = loft(Self.arguments(out, steps: "2"))
        #expect(other.status == 1)
        #expect(other.stderr.contains("holds a comparison with other settings (steps: 3 -> 2)"), "\(other.stderr)")
        let over = loft(Self.arguments(out, steps: "2") + ["--overwrite"])
        #expect(over.status == 0, "\(over.stderr)")
        #expect(!over.stdout.contains("done earlier"), "\(over.stdout)")
        let rerun = try JSON.parse(try String(contentsOfFile: out + "/results.json", encoding: .utf8))
        #expect(rerun["runs"]?.arrayValue?.allSatisfy { $0["steps"]?.intValue == 2 } == true)
    }

    /// One rate grid per method, as several calls into one directory: the last call's tables,
    /// results and plots cover every finished run there, each method with its own rates.
    @Test func callsIntoOneDirectoryReportTogether() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("compare")
        func call(_ method: String, _ rates: String) -> [String] {
            var arguments = Self.arguments(out)
            arguments[arguments.firstIndex(of: "--methods")! + 1] = method
            arguments[arguments.firstIndex(of: "--lrs")! + 1] = rates
            return arguments
        }
        let first = loft(call("lora", "1e-2"))
        #expect(first.status == 0, "\(first.stderr)")
        let second = loft(call("loft", "1e-3,3e-3"))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("the tables also cover 1 run of earlier calls"), "\(second.stdout)")
        let json = try JSON.parse(try String(contentsOfFile: out + "/results.json", encoding: .utf8))
        #expect(json["runs"]?.arrayValue?.count == 3)
        #expect(json["methods"]?.arrayValue?.compactMap(\.stringValue) == ["loft", "lora"])
        let best = try #require(json["best"]?.arrayValue)
        #expect(best.map { $0["method"]?.stringValue } == ["loft", "lora"])
        #expect(best.last?["best_lr"]?.doubleValue == Double(Float(1e-2)))
        let grid = try #require(json["grid"]?.arrayValue)
        #expect(grid.filter { $0["method"]?.stringValue == "lora" }.count == 1, "lora keeps its own one-rate grid")
        #expect(FileManager.default.fileExists(atPath: out + "/lr-lora.svg"))
        let table = try String(contentsOfFile: out + "/table.md", encoding: .utf8)
        #expect(table.contains("| loft | 2 |") && table.contains("| lora | 2 |"))
    }

    @Test func refusesAForeignDirectoryAndBadGrids() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("busy")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "mine".write(toFile: out + "/notes.txt", atomically: true, encoding: .utf8)
        let busy = loft(Self.arguments(out))
        #expect(busy.status == 1)
        #expect(busy.stderr.contains("not empty"), "\(busy.stderr)")
        for (flag, value, message) in [("--methods", "loft,sgd", "unknown method 'sgd'"), ("--ranks", "0", "--ranks"),
                                       ("--lrs", "1e-3,-1", "--lrs"), ("--seeds", "0", "--seeds")] {
            var arguments = Self.arguments(scratch.file("x"))
            let index = try #require(arguments.firstIndex(of: flag))
            arguments[index + 1] = value
            let result = loft(arguments)
            #expect(result.status == 64, "\(flag) \(value)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }

    @Test func everyRunSeesTheSameBatchesAndTheAutomaticGridSurroundsTheDefault() {
        let experiment = CompareExperiment(settings: CompareSettings(base: "m", data: "d"), methods: [.loft, .lora, .adamw],
                                           ranks: [4, 8], learningRates: nil, seeds: 3, directory: "out")
        let runs = experiment.runs
        #expect(runs.count == (2 + 2 + 1) * 7 * 3)
        #expect(Set(runs.map { experiment.request($0).dataSeed }) == [0])
        #expect(Set(runs.map(\.id)).count == runs.count)
        #expect(CompareExperiment.automaticRates(around: 3e-4) == [3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2])
        #expect(CompareExperiment.automaticRates(around: 1e-4) == [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
        // rsLoRA's scale alpha / sqrt(r) written as PEFT's alpha / r.
        #expect(CompareMethod.rslora.loraAlpha(rank: 16, alpha: nil) == 64)
        #expect(CompareMethod.lora.loraAlpha(rank: 16, alpha: nil) == nil)
    }
}
