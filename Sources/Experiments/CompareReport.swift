// What `loft experiment compare` makes of its runs: per method, rank and learning rate the
// mean and spread of the held-out loss over seeds; per method and rank the best learning
// rate; the tables (text and Markdown), results.csv, results.json and the SVG plots.
//
// Best learning rate: the lowest mean held-out loss over the seeds, among the rates where no
// seed diverged (a rate that diverges for one seed in three is not one a user can rely on).
// Spread: the sample standard deviation over seeds (0 with one seed).

import Foundation
import Plots
import TensorIO

public struct CompareCell: Sendable {
    public var method: CompareMethod
    public var rank: Int?
    public var learningRate: Float
    public var losses: [Double]
    public var diverged: Int
    public var seeds: Int

    public var mean: Double? { losses.isEmpty || diverged > 0 ? nil : losses.reduce(0, +) / Double(losses.count) }
    public var spread: Double? {
        guard let mean else { return nil }
        guard losses.count > 1 else { return 0 }
        return (losses.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(losses.count - 1)).squareRoot()
    }
}

public struct CompareBest: Sendable {
    public var method: CompareMethod
    public var rank: Int?
    /// nil when every rate diverged.
    public var best: CompareCell?
    /// The best rate is the smallest or largest tried: the optimum may lie outside the grid.
    public var atEdge: Bool
    public var divergedRuns: Int
    public var runs: Int
}

public struct CompareReport {
    public let experiment: CompareExperiment
    public let results: [CompareRunResult]
    public let cells: [CompareCell]
    public let best: [CompareBest]
    /// What the results cover: this call's methods first, then any other method with results
    /// (an earlier call into the same directory); every rank with results.
    public let methods: [CompareMethod]
    public let ranks: [Int]

    /// The tables cover every result given, so a grid built up over several calls (one rate
    /// grid per method) reads as one; each method and rank has the rates of its own results.
    public init(experiment: CompareExperiment, results: [CompareRunResult]) {
        self.experiment = experiment
        self.results = results
        let present = Set(results.map(\.run.method))
        methods = experiment.methods + CompareMethod.allCases.filter { present.contains($0) && !experiment.methods.contains($0) }
        ranks = Array(Set(experiment.ranks + results.compactMap(\.run.rank))).sorted()
        var cells: [CompareCell] = []
        var best: [CompareBest] = []
        for method in methods {
            for rank in (method.usesRank ? ranks.map { Optional($0) } : [nil]) {
                let rates = Array(Set(results.filter { $0.run.method == method && $0.run.rank == rank }.map(\.run.learningRate))).sorted()
                guard !rates.isEmpty else { continue }
                let group = rates.map { rate in
                    let runs = results.filter { $0.run.method == method && $0.run.rank == rank && $0.run.learningRate == rate }
                    return CompareCell(method: method, rank: rank, learningRate: rate, losses: runs.compactMap(\.evalLoss),
                                       diverged: runs.filter { $0.diverged != nil }.count, seeds: runs.count)
                }
                cells += group
                let winner = group.filter { $0.mean != nil }.min { $0.mean! < $1.mean! }
                let edge = winner.map { $0.learningRate == rates.min() || $0.learningRate == rates.max() } ?? false
                best.append(CompareBest(method: method, rank: rank, best: winner, atEdge: edge && rates.count > 1,
                                        divergedRuns: group.map(\.diverged).reduce(0, +), runs: group.map(\.seeds).reduce(0, +)))
            }
        }
        self.cells = cells
        self.best = best
    }

    /// The held-out loss before training (the same for every run).
    public var baseLoss: Double? { results.lazy.compactMap(\.initialEvalLoss).first }

    static func rank(_ rank: Int?) -> String { rank.map(String.init) ?? "full" }
    public static func loss(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "-" }

    /// The table printed at the end and written to DIR/table.md: best rate per method and rank.
    public var bestRows: [[String]] {
        best.map { row in
            [row.method.rawValue, CompareReport.rank(row.rank),
             row.best.map { CompareRun.format($0.learningRate) + (row.atEdge ? "*" : "") } ?? "-",
             CompareReport.loss(row.best?.mean), row.best?.spread.map { String(format: "%.4f", $0) } ?? "-",
             row.best.map { String($0.seeds) } ?? "-", "\(row.divergedRuns)/\(row.runs)"]
        }
    }

    public static let bestHeader = ["method", "rank", "best lr", "held-out loss", "± sd", "seeds", "diverged runs"]

    /// Every cell: method, rank, rate, mean, spread, seeds, diverged.
    public var gridRows: [[String]] {
        cells.map { cell in
            [cell.method.rawValue, CompareReport.rank(cell.rank), CompareRun.format(cell.learningRate),
             CompareReport.loss(cell.mean), cell.spread.map { String(format: "%.4f", $0) } ?? "-",
             String(cell.seeds), String(cell.diverged)]
        }
    }

    public static let gridHeader = ["method", "rank", "lr", "held-out loss", "± sd", "seeds", "diverged"]

    public var notes: [String] {
        var notes: [String] = []
        if let base = baseLoss { notes.append("held-out loss before training: " + String(format: "%.4f", base)) }
        if best.contains(where: \.atEdge) { notes.append("* the best rate is at the edge of the grid: the optimum may lie outside it (give --lrs)") }
        return notes
    }

    public static func markdown(_ header: [String], _ rows: [[String]]) -> String {
        var text = "| " + header.joined(separator: " | ") + " |\n"
        text += "|" + header.enumerated().map { $0.offset < 2 ? "---|" : "---:|" }.joined() + "\n"
        for row in rows { text += "| " + row.joined(separator: " | ") + " |\n" }
        return text
    }

    public var markdownTables: String {
        var text = "## Best learning rate per method and rank\n\n" + CompareReport.markdown(CompareReport.bestHeader, bestRows)
        for note in notes { text += "\n" + note + "\n" }
        text += "\n## Every learning rate\n\n" + CompareReport.markdown(CompareReport.gridHeader, gridRows)
        return text
    }

    /// One row per run.
    public var csv: String {
        func number(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
        var text = "method,rank,lr,seed,eval_loss,train_loss,initial_eval_loss,diverged,steps,seconds,optimizer_events\n"
        for r in results {
            let reason = (r.diverged ?? "").replacingOccurrences(of: ",", with: ";")
            text += "\(r.run.method.rawValue),\(r.run.rank.map(String.init) ?? ""),\(CompareRun.format(r.run.learningRate)),\(r.run.seed),"
                + "\(number(r.evalLoss)),\(number(r.trainLoss)),\(number(r.initialEvalLoss)),\(reason),\(r.steps),"
                + String(format: "%.2f", r.seconds) + ",\(r.optimizerEvents)\n"
        }
        return text
    }

    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue { value.flatMap { $0.isFinite ? .double($0) : nil } ?? .null }
        let bestJSON: [JSONValue] = best.map { row in
            .object([
                JSONMember("method", .string(row.method.rawValue)),
                JSONMember("rank", row.rank.map { .integer(Int64($0)) } ?? .null),
                JSONMember("best_lr", row.best.map { .double(Double($0.learningRate)) } ?? .null),
                JSONMember("eval_loss_mean", number(row.best?.mean)),
                JSONMember("eval_loss_sd", number(row.best?.spread)),
                JSONMember("seeds", .integer(Int64(row.best?.seeds ?? 0))),
                JSONMember("at_grid_edge", .bool(row.atEdge)),
                JSONMember("diverged_runs", .integer(Int64(row.divergedRuns))),
                JSONMember("runs", .integer(Int64(row.runs))),
            ])
        }
        let gridJSON: [JSONValue] = cells.map { cell in
            .object([
                JSONMember("method", .string(cell.method.rawValue)),
                JSONMember("rank", cell.rank.map { .integer(Int64($0)) } ?? .null),
                JSONMember("lr", .double(Double(cell.learningRate))),
                JSONMember("eval_loss_mean", number(cell.mean)), JSONMember("eval_loss_sd", number(cell.spread)),
                JSONMember("seeds", .integer(Int64(cell.seeds))), JSONMember("diverged", .integer(Int64(cell.diverged))),
            ])
        }
        // The runs without their curves (those are in runs/ID/result.json and log.csv).
        let runJSON: [JSONValue] = results.map { result in
            guard case let .object(members) = result.json else { return result.json }
            return .object(members.filter { $0.key != "train_curve" && $0.key != "eval_curve" })
        }
        return .object([
            JSONMember("settings", experiment.settings.json),
            JSONMember("methods", .array(methods.map { .string($0.rawValue) })),
            JSONMember("ranks", .array(ranks.map { .integer(Int64($0)) })),
            JSONMember("seeds", .integer(Int64(experiment.seeds))),
            JSONMember("initial_eval_loss", number(baseLoss)),
            JSONMember("best", .array(bestJSON)),
            JSONMember("grid", .array(gridJSON)),
            JSONMember("runs", .array(runJSON)),
        ])
    }

    /// Held-out loss against log10(learning rate) for one method, a line per rank (diverged
    /// rates leave a gap).
    public func learningRatePlot(_ method: CompareMethod) -> SVGLinePlot {
        var plot = SVGLinePlot(title: "\(method.rawValue): held-out loss after \(experiment.settings.steps) steps (mean over seeds)",
                               xLabel: "log10(learning rate)", yLabel: "held-out loss")
        for rank in (method.usesRank ? ranks.map { Optional($0) } : [nil]) {
            let points = cells.filter { $0.method == method && $0.rank == rank }
                .map { (x: log10(Double($0.learningRate)), y: $0.mean ?? .nan) }
            plot.add(rank.map { "rank \($0)" } ?? "full", points: points)
        }
        return plot
    }

    /// Training and held-out curves (mean over seeds) of every method at its best rate, for one
    /// rank (full fine-tuning is drawn on every rank's plot).
    public func curvesPlot(rank: Int?) -> SVGLinePlot {
        var plot = SVGLinePlot(title: "training curves at each method's best learning rate" + (rank.map { ", rank \($0)" } ?? ""),
                               xLabel: "step", yLabel: "loss")
        for row in best where row.rank == rank || row.rank == nil {
            guard let cell = row.best else { continue }
            let runs = results.filter { $0.run.method == row.method && $0.run.rank == row.rank && $0.run.learningRate == cell.learningRate }
            let label = row.method.rawValue + " lr " + CompareRun.format(cell.learningRate)
            let length = runs.map(\.trainCurve.count).min() ?? 0
            let count = Double(runs.count)
            var train: [(x: Double, y: Double)] = []
            for i in 0..<length {
                let sum = runs.reduce(0.0) { $0 + $1.trainCurve[i] }
                train.append((x: Double(i + 1), y: sum / count))
            }
            plot.add(label + " train", points: train)
            let steps = runs.first?.evalCurve.map(\.step) ?? []
            let eval = steps.compactMap { step -> (x: Double, y: Double)? in
                let values = runs.compactMap { $0.evalCurve.first(where: { $0.step == step })?.loss }
                return values.count == runs.count ? (Double(step), values.reduce(0, +) / Double(values.count)) : nil
            }
            plot.add(label + " held-out", points: eval)
        }
        return plot
    }

    /// Writes results.csv, results.json, table.md, lr-METHOD.svg and curves[-rR].svg into
    /// the comparison's directory; returns the names written.
    @discardableResult
    public func write() throws -> [String] {
        let directory = experiment.directory
        var written: [(String, String)] = [
            ("results.csv", csv), ("results.json", JSON.serialize(json, style: .indented) + "\n"), ("table.md", markdownTables),
        ]
        for method in methods { written.append(("lr-\(method.rawValue).svg", learningRatePlot(method).render())) }
        let ranked = methods.contains(where: \.usesRank)
        if ranked {
            for rank in ranks { written.append(("curves-r\(rank).svg", curvesPlot(rank: rank).render())) }
        } else {
            written.append(("curves.svg", curvesPlot(rank: nil).render()))
        }
        for (name, text) in written { try AtomicOutputFile.write(text, to: SystemPath.join(directory, name)) }
        return written.map(\.0)
    }
}
