// Learning rate per step: linear warmup, then cosine decay to 0 or constant.
//
// Step s counts from 0. During warmup (s < W) the rate is peak · (s + 1) / W, so the first
// step already moves (Hugging Face's schedule starts at 0 and wastes it). After warmup,
// cosine: peak · ½ (1 + cos(π · (s − W) / (S − W))) over S total steps, so the last step
// (s = S − 1) still has a small positive rate and the curve would reach 0 at s = S.

import Foundation

public enum ScheduleShape: String, Sendable, CaseIterable {
    case cosine, constant
}

public struct LearningRateSchedule: Sendable, Equatable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var shape: ScheduleShape

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, shape: ScheduleShape) {
        self.peak = peak
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(1, totalSteps)
        self.shape = shape
    }

    public func rate(step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        switch shape {
        case .constant: return peak
        case .cosine:
            let span = max(1, totalSteps - warmupSteps)
            let progress = min(1, Double(step - warmupSteps) / Double(span))
            return Float(Double(peak) * 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
