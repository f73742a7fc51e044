// The run's log, rewritten whole after every evaluation so an interrupted run leaves a
// readable one: DIR/log.csv and DIR/log.jsonl (one object per entry), columns
// step, loss, eval_loss, lr, tokens_per_s (empty / null when not measured at that step;
// step 0 is the evaluation before training), and DIR/loss.svg (train and eval loss per step).
// A step whose optimizer had to work around a numerical case (a regularised Gram solve, a
// skipped pair) carries them in log.jsonl as "optimizer_events" (absent otherwise); a
// data-parallel step its gradient all-reduce time as "allreduce_ms".

import Foundation
import Plots
import LoFT
import TensorIO

public enum TrainingLog {
    public static func write(_ history: [LogEntry], directory: String) throws {
        func number(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
        var csv = "step,loss,eval_loss,lr,tokens_per_s\n"
        var jsonl = ""
        for entry in history {
            csv += "\(entry.step),\(number(entry.loss.map(Double.init))),\(number(entry.evalLoss)),"
                + "\(number(entry.learningRate.map(Double.init))),\(number(entry.tokensPerSecond.map { ($0 * 10).rounded() / 10 }))\n"
            jsonl += JSON.serialize(json(entry)) + "\n"
        }
        try write(csv, to: path(directory, "log.csv"))
        try write(jsonl, to: path(directory, "log.jsonl"))
        try write(plot(history).render(), to: path(directory, "loss.svg"))
    }

    public static func json(_ entry: LogEntry) -> JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { $0.isFinite ? .double($0) : .null } ?? .null }
        var members = [
            JSONMember("step", .integer(Int64(entry.step))),
            JSONMember("loss", number(entry.loss.map(Double.init))),
            JSONMember("eval_loss", number(entry.evalLoss)),
            JSONMember("lr", number(entry.learningRate.map(Double.init))),
            JSONMember("tokens_per_s", number(entry.tokensPerSecond)),
        ]
        if !entry.optimizerEvents.isEmpty {
            members.append(JSONMember("optimizer_events", .array(entry.optimizerEvents.map { .string($0) })))
        }
        if let seconds = entry.allReduceSeconds { members.append(JSONMember("allreduce_ms", .double(seconds * 1000))) }
        return .object(members)
    }

    public static func entry(_ json: JSONValue) -> LogEntry? {
        guard let step = json["step"]?.intValue else { return nil }
        return LogEntry(step: step, loss: json["loss"]?.doubleValue.map(Float.init), evalLoss: json["eval_loss"]?.doubleValue,
                        learningRate: json["lr"]?.doubleValue.map(Float.init), tokensPerSecond: json["tokens_per_s"]?.doubleValue,
                        optimizerEvents: (json["optimizer_events"]?.arrayValue ?? []).compactMap(\.stringValue),
                        allReduceSeconds: json["allreduce_ms"]?.doubleValue.map { $0 / 1000 })
    }

    public static func plot(_ history: [LogEntry]) -> SVGLinePlot {
        var plot = SVGLinePlot(title: "loss", xLabel: "step", yLabel: "loss")
        plot.add("train", points: history.compactMap { entry in entry.loss.map { (Double(entry.step), Double($0)) } })
        let eval = history.compactMap { entry in entry.evalLoss.map { (Double(entry.step), $0) } }
        if !eval.isEmpty { plot.add("eval", points: eval) }
        return plot
    }

    static func path(_ directory: String, _ name: String) -> String { SystemPath.join(directory, name) }

    static func write(_ text: String, to path: String) throws { try AtomicOutputFile.write(text, to: path) }
}
