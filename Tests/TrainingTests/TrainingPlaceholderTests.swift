import Testing
@testable import Training

@Test func TrainingModuleLoads() { #expect(Bool(true)) }
