// `loft experiment compare`: a sweep of fine-tuning runs, method x rank x learning rate x
// seed, each one an ordinary `loft finetune` run (FinetuneJob) in its own directory
// DIR/runs/ID, so the training loop, the checks and the files are finetune's own. What this
// file adds is the grid, the shared batches, divergence as a result, and resumption: a
// run whose DIR/runs/ID/result.json exists is done and is read back, not rerun; a run
// interrupted halfway continues from its checkpoint.
//
// Identical batches: every run draws its batches from the data seed (0 unless the data
// order is varied with the seed), so two methods at the same seed see the same windows in
// the same order; the seed itself initialises the adapters.

import Foundation
import LoFT
import TensorIO
import Training

/// What a comparison can run: loft finetune's three methods, LoFT's two ablations and LoFT
/// without rebalancing, and rank-stabilised LoRA.
public enum CompareMethod: String, CaseIterable, Sendable {
    case loft
    case loftNoAlternate = "loft-no-alternate"
    case loftNoCalibration = "loft-no-calibration"
    /// LoFT without loft's rebalancing of the pair after each step (docs/loft.md).
    case loftNoRebalance = "loft-no-rebalance"
    case lora
    /// LoRA with the forward scale alpha / sqrt(r) (Kalajdzievski 2023) instead of alpha / r.
    case rslora
    case adamw

    public var training: TrainingMethod {
        switch self {
        case .loft, .loftNoAlternate, .loftNoCalibration, .loftNoRebalance: return .loft
        case .lora, .rslora: return .lora
        case .adamw: return .adamw
        }
    }

    public var loftOptions: LoFTOptions {
        switch self {
        case .loftNoAlternate: return .noAlternation
        case .loftNoCalibration: return .noCalibration
        case .loftNoRebalance: return LoFTOptions(rebalancing: false)
        default: return .full
        }
    }

    /// Full fine-tuning has no rank: it runs once per learning rate and seed.
    public var usesRank: Bool { self != .adamw }

    /// PEFT's lora_alpha for this method at rank r, given the comparison's --lora-alpha
    /// (nil = r). rsLoRA's scale alpha / sqrt(r) is written as lora_alpha = alpha sqrt(r),
    /// so that PEFT's alpha / r gives the same scale.
    public func loraAlpha(rank: Int, alpha: Float?) -> Float? {
        switch self {
        case .lora: return alpha
        case .rslora: return (alpha ?? Float(rank)) * Float(rank).squareRoot()
        default: return nil
        }
    }

    /// The centre of the automatic learning-rate grid: `loft finetune`'s default.
    public var defaultLearningRate: Float { TrainingOptions.defaultLearningRate(training) }
}

/// One run of the grid.
public struct CompareRun: Sendable, Hashable {
    public var method: CompareMethod
    /// nil for full fine-tuning.
    public var rank: Int?
    public var learningRate: Float
    public var seed: UInt64

    public init(method: CompareMethod, rank: Int?, learningRate: Float, seed: UInt64) {
        self.method = method
        self.rank = rank
        self.learningRate = learningRate
        self.seed = seed
    }

    /// The run's directory name under DIR/runs, e.g. `loft-r8-lr0.003-s0`, `adamw-lr1e-04-s2`.
    public var id: String {
        method.rawValue + (rank.map { "-r\($0)" } ?? "") + "-lr" + CompareRun.format(learningRate) + "-s\(seed)"
    }

    /// The run a result.json describes (its method, rank, lr and seed), nil when it names none.
    public init?(json: JSONValue) {
        guard let name = json["method"]?.stringValue, let method = CompareMethod(rawValue: name),
              let rate = json["lr"]?.doubleValue, let seed = json["seed"]?.intValue, seed >= 0 else { return nil }
        let rank = json["rank"]?.intValue
        guard method.usesRank == (rank != nil) else { return nil }
        self.init(method: method, rank: rank, learningRate: Float(rate), seed: UInt64(seed))
    }

    /// A learning rate as the names, tables and logs show it: three significant digits.
    public static func format(_ rate: Float) -> String { String(format: "%.3g", Double(rate)) }
}

/// The settings every run shares; a comparison directory is resumed only with the same ones.
public struct CompareSettings: Sendable, Equatable {
    public var base: String
    public var data: String
    public var evalData: String?
    /// The held-out tail of --data when there is no --eval-data (default 0.1).
    public var evalFraction: Double?
    public var tokenizer: String?
    public var steps = 150
    public var batch = 8
    public var sequence: Int?
    public var warmup: Int?
    public var schedule: ScheduleShape = .cosine
    public var clip: Float? = 1
    public var weightDecay: Float = 0
    /// Adam's eps for every method; nil = each method's default (LoFT 1e-4, the others 1e-8).
    public var eps: Float?
    public var loraAlpha: Float?
    public var targets: [String]?
    public var evalInterval: Int?
    /// Draw each seed's batches from that seed (default: one order, seed 0, for every run).
    public var varyDataOrder = false

    public init(base: String, data: String) {
        self.base = base
        self.data = data
    }

    /// The shared settings as recorded in DIR/compare.json (paths as given).
    public var json: JSONValue {
        func optional<T>(_ value: T?, _ make: (T) -> JSONValue) -> JSONValue { value.map(make) ?? .null }
        return .object([
            JSONMember("base", .string(base)), JSONMember("data", .string(data)),
            JSONMember("eval_data", optional(evalData) { .string($0) }),
            JSONMember("eval_fraction", optional(evalFraction) { .double($0) }),
            JSONMember("tokenizer", optional(tokenizer) { .string($0) }),
            JSONMember("steps", .integer(Int64(steps))), JSONMember("batch", .integer(Int64(batch))),
            JSONMember("seq", optional(sequence) { .integer(Int64($0)) }),
            JSONMember("warmup", optional(warmup) { .integer(Int64($0)) }),
            JSONMember("schedule", .string(schedule.rawValue)),
            JSONMember("clip", optional(clip) { .double(Double($0)) }),
            JSONMember("weight_decay", .double(Double(weightDecay))),
            JSONMember("eps", optional(eps) { .double(Double($0)) }),
            JSONMember("lora_alpha", optional(loraAlpha) { .double(Double($0)) }),
            JSONMember("targets", optional(targets) { .array($0.map { .string($0) }) }),
            JSONMember("eval_interval", optional(evalInterval) { .integer(Int64($0)) }),
            JSONMember("vary_data_order", .bool(varyDataOrder)),
        ])
    }
}

/// What one run gave.
public struct CompareRunResult: Sendable {
    public var run: CompareRun
    /// nil: finished normally; otherwise why the run counts as diverged.
    public var diverged: String?
    /// Held-out loss before training and after the last step (nil when it diverged before).
    public var initialEvalLoss: Double?
    public var evalLoss: Double?
    public var trainLoss: Double?
    public var steps: Int
    public var seconds: Double
    public var optimizerEvents: Int
    /// Training loss per step (index 0 = step 1) and held-out loss at the evaluated steps.
    public var trainCurve: [Double]
    public var evalCurve: [(step: Int, loss: Double)]

    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue { value.flatMap { $0.isFinite ? .double($0) : nil } ?? .null }
        return .object([
            JSONMember("method", .string(run.method.rawValue)),
            JSONMember("rank", run.rank.map { .integer(Int64($0)) } ?? .null),
            JSONMember("lr", .double(Double(run.learningRate))),
            JSONMember("seed", .integer(Int64(run.seed))),
            JSONMember("diverged", diverged.map { .string($0) } ?? .null),
            JSONMember("initial_eval_loss", number(initialEvalLoss)),
            JSONMember("eval_loss", number(evalLoss)),
            JSONMember("train_loss", number(trainLoss)),
            JSONMember("steps", .integer(Int64(steps))),
            JSONMember("seconds", .double(seconds)),
            JSONMember("optimizer_events", .integer(Int64(optimizerEvents))),
            JSONMember("train_curve", .array(trainCurve.map(number))),
            JSONMember("eval_curve", .array(evalCurve.map { .array([.integer(Int64($0.step)), number($0.loss)]) })),
        ])
    }

    /// Reads a result written by `json`; nil when it is not one for `run`.
    public init?(json: JSONValue, run: CompareRun) {
        guard json["method"]?.stringValue == run.method.rawValue, json["rank"]?.intValue == run.rank,
              let rate = json["lr"]?.doubleValue, Float(rate) == run.learningRate,
              json["seed"]?.intValue.map(UInt64.init) == run.seed,
              let steps = json["steps"]?.intValue else { return nil }
        self.run = run
        diverged = json["diverged"]?.stringValue
        initialEvalLoss = json["initial_eval_loss"]?.doubleValue
        evalLoss = json["eval_loss"]?.doubleValue
        trainLoss = json["train_loss"]?.doubleValue
        self.steps = steps
        seconds = json["seconds"]?.doubleValue ?? 0
        optimizerEvents = json["optimizer_events"]?.intValue ?? 0
        trainCurve = (json["train_curve"]?.arrayValue ?? []).map { $0.doubleValue ?? .nan }
        evalCurve = (json["eval_curve"]?.arrayValue ?? []).compactMap { pair in
            guard let items = pair.arrayValue, items.count == 2, let step = items[0].intValue else { return nil }
            return (step, items[1].doubleValue ?? .nan)
        }
    }

    init(run: CompareRun, history: [LogEntry], diverged: String?, seconds: Double, optimizerEvents: Int) {
        self.run = run
        self.seconds = seconds
        self.optimizerEvents = optimizerEvents
        let trained = history.filter { $0.step > 0 }
        steps = trained.last?.step ?? 0
        trainCurve = trained.map { $0.loss.map(Double.init) ?? .nan }
        evalCurve = history.compactMap { entry in entry.evalLoss.map { (entry.step, $0) } }
        initialEvalLoss = history.first(where: { $0.step == 0 })?.evalLoss
        trainLoss = trained.last?.loss.map(Double.init)
        evalLoss = diverged == nil ? evalCurve.last(where: { $0.step == steps })?.loss : nil
        var reason = diverged
        if reason == nil, let loss = evalLoss, let start = initialEvalLoss {
            // A run that ends far above where it started has left the basin: it counts as
            // diverged, not as a poor learning rate with a finite score.
            if !loss.isFinite { reason = "held-out loss not finite" }
            else if loss > 1.5 * start { reason = String(format: "held-out loss %.4g ended above 1.5 x the start %.4g", loss, start) }
        }
        self.diverged = reason
        if reason != nil { evalLoss = nil }
    }
}

public final class CompareExperiment {
    public let settings: CompareSettings
    public let methods: [CompareMethod]
    public let ranks: [Int]
    /// nil: the automatic grid per method.
    public let learningRates: [Float]?
    public let seeds: Int
    public let directory: String
    /// Set by `openDirectory(overwrite: true)`: interrupted runs start over, not from their checkpoints.
    var startOver = false

    public init(settings: CompareSettings, methods: [CompareMethod], ranks: [Int], learningRates: [Float]?, seeds: Int, directory: String) {
        self.settings = settings
        self.methods = methods
        self.ranks = ranks
        self.learningRates = learningRates
        self.seeds = seeds
        self.directory = directory
    }

    /// `--lrs auto`: the 1-3 ladder (1e-4, 3e-4, 1e-3, ...) from a tenth of the method's
    /// default to 100 times it. Upwards more than downwards: on short runs of small models the
    /// best rate sits well above the defaults, which are set for long runs.
    public static func automaticRates(around center: Float) -> [Float] {
        let low = Double(center) / 10 * 0.999, high = Double(center) * 100 * 1.001
        var rates: [Float] = []
        var decade = floor(log10(low))
        while pow(10, decade) <= high {
            for mantissa in [1.0, 3.0] {
                let value = mantissa * pow(10, decade)
                if value >= low && value <= high { rates.append(Float(String(format: "%.0e", value))!) }
            }
            decade += 1
        }
        return rates
    }

    public func rates(for method: CompareMethod) -> [Float] {
        learningRates ?? CompareExperiment.automaticRates(around: method.defaultLearningRate)
    }

    /// Every run, in the order they are run: method, rank, learning rate, then seed.
    public var runs: [CompareRun] {
        var runs: [CompareRun] = []
        for method in methods {
            for rank in (method.usesRank ? ranks.map { Optional($0) } : [nil]) {
                for rate in rates(for: method) {
                    for seed in 0..<seeds { runs.append(CompareRun(method: method, rank: rank, learningRate: rate, seed: UInt64(seed))) }
                }
            }
        }
        return runs
    }

    public func runDirectory(_ run: CompareRun) -> String { SystemPath.join(SystemPath.join(directory, "runs"), run.id) }
    func resultPath(_ run: CompareRun) -> String { SystemPath.join(runDirectory(run), "result.json") }

    /// The result of a run finished earlier, or nil.
    public func finishedResult(_ run: CompareRun) -> CompareRunResult? {
        guard PathStatus.isRegularFile(resultPath(run)), let json = try? JSONFile.read(resultPath(run)) else { return nil }
        return CompareRunResult(json: json, run: run)
    }

    /// Every run finished in the directory, from this call's grid or an earlier call's (calls
    /// into one directory share its settings, so their runs compare; a user runs one grid per
    /// method this way). Sorted by run name; a result.json that is not a run's is ignored.
    public func everyFinishedResult() -> [CompareRunResult] {
        let runs = SystemPath.join(directory, "runs")
        return (SystemPath.list(runs) ?? []).sorted().compactMap { name in
            let path = SystemPath.join(SystemPath.join(runs, name), "result.json")
            guard PathStatus.isRegularFile(path), let json = try? JSONFile.read(path),
                  let run = CompareRun(json: json), run.id == name else { return nil }
            return CompareRunResult(json: json, run: run)
        }
    }

    /// The finetune request of one run (it writes into DIR/runs/ID, its own directory).
    public func request(_ run: CompareRun) -> FinetuneRequest {
        let s = settings
        var request = FinetuneRequest(base: s.base, data: s.data, output: runDirectory(run))
        request.evalData = s.evalData
        request.evalFraction = s.evalData == nil ? (s.evalFraction ?? 0.1) : nil
        request.tokenizer = s.tokenizer
        request.batch = s.batch
        request.sequence = s.sequence
        request.warmup = s.warmup
        request.evalInterval = s.evalInterval
        request.overwrite = true
        request.dataSeed = s.varyDataOrder ? run.seed : 0
        var options = TrainingOptions()
        options.method = run.method.training
        options.loftOptions = run.method.loftOptions
        options.rank = run.rank ?? options.rank
        options.loraAlpha = run.method.loraAlpha(rank: options.rank, alpha: s.loraAlpha)
        options.targets = s.targets
        options.steps = s.steps
        options.learningRate = run.learningRate
        options.schedule = s.schedule
        options.weightDecay = s.weightDecay
        options.eps = s.eps
        options.clip = s.clip
        options.seed = run.seed
        request.options = options
        return request
    }

    /// Trains one run (continuing its checkpoint when an interrupted attempt left one) and
    /// records its result in DIR/runs/ID/result.json. A loss that is not finite ends the run
    /// as diverged; every other error is the comparison's.
    public func execute(_ run: CompareRun, observer: (TrainingEvent) -> Void = { _ in }) throws -> CompareRunResult {
        let started = Date()
        var request = self.request(run)
        let job: FinetuneJob
        if !startOver, PathStatus.isDirectory(SystemPath.join(runDirectory(run), "checkpoint")) {
            request.resume = runDirectory(run)
            // A checkpoint that does not fit (settings changed under --overwrite) is started over.
            if let resumed = try? FinetuneJob(request) { job = resumed } else {
                request.resume = nil
                job = try FinetuneJob(request)
            }
        } else {
            job = try FinetuneJob(request)
        }
        var diverged: String?
        do {
            try job.run(observer: observer)
        } catch let TrainingError.lossNotFinite(step, loss) {
            diverged = "training loss \(loss) at step \(step)"
            try? TrainingLog.write(job.trainer.history, directory: runDirectory(run))
        }
        let result = CompareRunResult(run: run, history: job.trainer.history, diverged: diverged,
                                      seconds: Date().timeIntervalSince(started), optimizerEvents: job.trainer.optimizer.eventCount)
        try AtomicOutputFile.write(JSON.serialize(result.json) + "\n", to: resultPath(run))
        return result
    }
}
