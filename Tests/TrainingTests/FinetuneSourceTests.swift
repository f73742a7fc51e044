// FinetuneJob opens its base through ModelSource: --base with --init is refused before
// anything is built (issue 10, defect 7), and the source's notes reach the caller.

import Foundation
import Testing
import TensorIO
@testable import Models
@testable import Training

@Suite struct FinetuneSourceTests {
    @Test func baseWithInitIsRefused() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var request = FinetuneRequest(base: TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy"), output: directory + "/run")
        request.initConfig = TrainingFixtures.path("gpt2/config.json")
        request.options.steps = 1
        #expect(throws: TrainingError.baseAndInit(base: TrainingFixtures.path("gpt2"), config: TrainingFixtures.path("gpt2/config.json"))) {
            try FinetuneJob(request)
        }
    }

    @Test func theJobKeepsItsSource() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var request = FinetuneRequest(base: TrainingFixtures.path("gpt2"), data: TrainingFixtures.path("tokens.npy"), output: directory + "/run")
        request.options.steps = 1
        request.batch = 1
        request.sequence = 8
        let job = try FinetuneJob(request)
        #expect(job.source?.modelType == "gpt2" && job.source?.directory == TrainingFixtures.path("gpt2"))
        #expect(job.source?.notes == [])
    }
}
