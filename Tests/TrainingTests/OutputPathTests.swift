// Where `loft finetune` may write (the output policy, TensorIO's OutputTarget): never into
// the base model's directory or over its files, and a blocked output directory is reported
// before anything is read.

import Foundation
import Testing
import TensorIO
@testable import Training

@Suite struct OutputPathTests {
    /// A copy of the fixture model, so a failure of the check cannot damage the fixture.
    func baseCopy(in directory: String) throws -> String {
        let base = directory + "/base"
        try FileManager.default.copyItem(atPath: TrainingFixtures.path("gpt2"), toPath: base)
        return base
    }

    func adamwRequest(base: String, output: String) -> FinetuneRequest {
        var request = FinetuneRequest(base: base, data: TrainingFixtures.path("tokens.npy"), output: output)
        request.batch = 2
        request.sequence = 16
        request.options.steps = 1
        request.options.method = .adamw
        return request
    }

    @Test(arguments: [TrainingMethod.adamw, .loft, .lora]) func noMethodWritesIntoTheBaseDirectory(method: TrainingMethod) throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = try baseCopy(in: directory)
        let before = try Data(contentsOf: URL(fileURLWithPath: base + "/model.safetensors"))
        for (given, output) in [(base, base), (base + "/", base + "/./"), (base + "/model.safetensors", base), (base, base + "/run")] {
            var request = adamwRequest(base: given, output: output)
            request.options.method = method
            request.overwrite = true
            #expect(throws: OutputError.self) { try FinetuneJob(request) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: base + "/model.safetensors")) == before)
        #expect(!FileManager.default.fileExists(atPath: base + "/run"))
    }

    @Test func uncreatableOutputNamesThePathAndReason() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A regular file where a parent directory should be.
        _ = FileManager.default.createFile(atPath: directory + "/file", contents: Data("x".utf8))
        var request = adamwRequest(base: TrainingFixtures.path("gpt2"), output: directory + "/file/out")
        request.options.method = .loft
        #expect(throws: OutputError.notADirectory(path: directory + "/file/out", blocking: directory + "/file")) { try FinetuneJob(request) }
    }
}
