// The knobs of a training run, with the defaults `loft finetune` documents
// (docs/commands/finetune.md).

import LoFT

public enum TrainingMethod: String, Sendable, CaseIterable {
    /// LoFT-AdamW on low-rank adapters (the default).
    case loft
    /// LoRA: AdamW on each factor, forward scale lora_alpha / r.
    case lora
    /// Full fine-tuning of the targeted weights with AdamW; writes a full checkpoint.
    case adamw
}

public struct TrainingOptions: Sendable, Equatable {
    public var method: TrainingMethod = .loft
    /// LoFT's switches (the paper's ablations; `loft experiment compare` runs them as methods).
    public var loftOptions: LoFTOptions = .full
    public var rank = 8
    /// LoRA's lora_alpha; nil means r (scale 1, PEFT's own default of r = alpha = 8).
    /// LoFT always uses alpha = r: it is invariant to the factors' scale.
    public var loraAlpha: Float?
    /// PEFT target_modules rule; "all" = every projection (adapters) or every parameter (adamw);
    /// nil = the model's own default (GPT-2 c_attn,c_proj; LLaMA its seven projections; MLP all).
    public var targets: [String]?
    public var steps = 1000
    public var learningRate: Float = 3e-4
    public var warmupSteps = 0
    public var schedule: ScheduleShape = .cosine
    public var weightDecay: Float = 0
    /// Adam's eps; nil = the method's default (below).
    public var eps: Float?
    /// Global gradient-norm clipping (LoFT-aware for LoFT); nil = off.
    public var clip: Float? = 1
    public var seed: UInt64 = 0
    /// Evaluate (and write a checkpoint) every this many steps, and after the last step.
    public var evalInterval = 100
    /// Stop after this many steps in total without finishing the schedule (for interrupted
    /// runs and the resume tests); nil = run to `steps`.
    public var stopAfter: Int?

    public init() {}

    /// The learning rate `loft finetune` uses when --lr is not given: LoFT moves B A the way
    /// AdamW moves W, so it takes a full fine-tuning rate; LoRA (scale 1) needs a larger one.
    public static func defaultLearningRate(_ method: TrainingMethod) -> Float {
        switch method {
        case .loft: return 3e-4
        case .lora: return 1e-3
        case .adamw: return 1e-4
        }
    }

    public var alpha: Float {
        method == .lora ? (loraAlpha ?? Float(rank)) : Float(rank)
    }

    public var schedulePlan: LearningRateSchedule {
        LearningRateSchedule(peak: learningRate, warmupSteps: warmupSteps, totalSteps: steps, shape: schedule)
    }

    /// AdamW's hyper-parameters: LoFT uses eps 1e-4 (docs/loft.md, "One step", defaults), the others PyTorch's 1e-8.
    public var hyperparameters: AdamWHyperparameters {
        AdamWHyperparameters(eps: eps ?? (method == .loft ? 1e-4 : 1e-8), weightDecay: weightDecay)
    }

    public func validate() throws {
        func refuse(_ setting: TrainingSetting, _ value: Any, _ requirement: String) -> TrainingError {
            .invalidSetting(setting, value: "\(value)", requirement: requirement)
        }
        guard steps > 0 else { throw refuse(.steps, steps, "positive") }
        guard rank > 0 else { throw refuse(.rank, rank, "positive") }
        guard learningRate > 0, learningRate.isFinite else { throw refuse(.learningRate, learningRate, "positive and finite") }
        guard warmupSteps >= 0 else { throw refuse(.warmupSteps, warmupSteps, "≥ 0") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw refuse(.weightDecay, weightDecay, "≥ 0 and finite") }
        if let clip, !(clip > 0 && clip.isFinite) { throw refuse(.clip, clip, "positive and finite; 0 does not turn clipping off") }
        guard evalInterval > 0 else { throw refuse(.evalInterval, evalInterval, "positive") }
        if let targets, targets.isEmpty { throw refuse(.targets, "nothing", "at least one module name") }
        if let eps, !(eps > 0 && eps.isFinite) { throw refuse(.eps, eps, "positive and finite") }
        if let alpha = loraAlpha, !(alpha > 0 && alpha.isFinite) { throw refuse(.loraAlpha, alpha, "positive and finite") }
    }
}
