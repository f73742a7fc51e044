// The knobs of the optimizers: AdamW's hyperparameters and LoFT's switches.

import Compute

/// AdamW, PyTorch convention: decoupled weight decay `p -= lr * weightDecay * p` before the
/// Adam step, bias-corrected moments, `eps` added to sqrt(v / c2).
public struct AdamWHyperparameters: Sendable, Equatable {
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    /// LoFT's defaults: eps 1e-4, because the reconstructed second moment can be tiny or zero.
    public static let loftDefaults = AdamWHyperparameters(eps: 1e-4)
}

/// Every LoFT block is a switch, for ablations. All on is the method.
public struct LoFTOptions: Sendable, Equatable {
    /// Move one factor per step (B first, then A, ...). Off: both move every step.
    public var alternatingUpdates: Bool
    /// Precondition the factor gradients with (BᵀB + 1e-6 I)⁻¹ and (AAᵀ + 1e-8 I)⁻¹. Off: the
    /// scaling matrices are the identity everywhere (gradients, calibration, update).
    public var gradientScaling: Bool
    /// Carry the momentum into the new basis when the other factor moved.
    public var momentumCalibration: Bool
    /// Keep the r x r second-moment matrices (calibrated into the new basis) and take the
    /// projected full Adam step. Off: a plain elementwise second moment of the scaled
    /// gradient and an Adam step in factor space (the authors' ablation).
    public var secondMomentCalibration: Bool
    /// Rebalance the pair after each step, (B, A) <- (B S, S⁻¹ A) with equal Gram matrices
    /// (LoFTRebalancing.swift). The product is unchanged; off: the factors may drift into an
    /// ill-conditioned split that float32 cannot follow.
    public var rebalancing: Bool

    public init(alternatingUpdates: Bool = true, gradientScaling: Bool = true,
                momentumCalibration: Bool = true, secondMomentCalibration: Bool = true,
                rebalancing: Bool = true) {
        self.alternatingUpdates = alternatingUpdates
        self.gradientScaling = gradientScaling
        self.momentumCalibration = momentumCalibration
        self.secondMomentCalibration = secondMomentCalibration
        self.rebalancing = rebalancing
    }

    /// Rebalancing relies on the calibrations to carry the state into the new bases (exactly
    /// only with gradient scaling on); with an ablation that switches one off it is not done.
    var rebalances: Bool { rebalancing && gradientScaling && momentumCalibration && secondMomentCalibration }

    public static let full = LoFTOptions()
    public static let noAlternation = LoFTOptions(alternatingUpdates: false)
    public static let noCalibration = LoFTOptions(momentumCalibration: false, secondMomentCalibration: false)

    /// Ridges added to the Gram matrices before solving (the spec's values).
    static let ridgeB = 1e-6
    static let ridgeA = 1e-8
}

/// How low-rank pairs are trained. Dense parameters always use AdamW.
public enum LowRankMethod: Sendable, Equatable {
    /// Plain AdamW on both factors (the alpha / r scale is applied by the caller's forward).
    case loraAdamW
    case loft(LoFTOptions)

    public static let loft = LowRankMethod.loft(.full)
}
