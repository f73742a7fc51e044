// Learning-rate schedules against transformers' get_cosine_schedule_with_warmup and
// get_constant_schedule_with_warmup (fixtures/training/schedule.json). loft's warmup is one
// step ahead of Hugging Face's (its first step has rate peak / W, not 0); after warmup they agree.

import Testing
@testable import Training

@Suite struct ScheduleTests {
    func reference(_ name: String) throws -> [Double] {
        let json = try TrainingFixtures.json("schedule.json")
        return try #require(json[name]?.arrayValue?.compactMap { $0.doubleValue })
    }

    @Test(arguments: [ScheduleShape.cosine, .constant])
    func matchesTransformers(shape: ScheduleShape) throws {
        let hf = try reference(shape.rawValue)
        #expect(hf.count == 101)
        let schedule = LearningRateSchedule(peak: 2, warmupSteps: 10, totalSteps: 100, shape: shape)
        for step in 0..<100 {
            let expected = step < 10 ? 2 * hf[step + 1] : 2 * hf[step]
            #expect(abs(Double(schedule.rate(step: step)) - expected) < 1e-6, "step \(step)")
        }
    }

    @Test func cosineHalfwayIsHalfThePeak() {
        let schedule = LearningRateSchedule(peak: 1e-3, warmupSteps: 0, totalSteps: 100, shape: .cosine)
        #expect(schedule.rate(step: 0) == 1e-3)
        #expect(abs(schedule.rate(step: 50) - 5e-4) < 1e-9)
        #expect(schedule.rate(step: 99) > 0 && schedule.rate(step: 99) < 1e-6)
    }
}
