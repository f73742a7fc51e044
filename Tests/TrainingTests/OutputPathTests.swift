// Where `loft finetune` may write: full fine-tuning must not replace the base model's own
// files, and an output directory that cannot be created is reported with the POSIX reason.

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

    @Test func adamwRefusesToWriteIntoTheBaseDirectory() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = try baseCopy(in: directory)
        let before = try Data(contentsOf: URL(fileURLWithPath: base + "/model.safetensors"))
        for (given, output) in [(base, base), (base + "/", base + "/./"), (base + "/model.safetensors", base)] {
            #expect(throws: TrainingError.self) { try FinetuneJob(adamwRequest(base: given, output: output)) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: base + "/model.safetensors")) == before)
    }

    @Test func adapterMethodsMayShareTheBaseDirectory() throws {
        // LoFT and LoRA write adapter_* files only, which replace nothing of the base.
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = try baseCopy(in: directory)
        var request = adamwRequest(base: base, output: base)
        request.options.method = .loft
        _ = try FinetuneJob(request)
    }

    @Test func uncreatableOutputNamesThePathAndReason() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A regular file where a parent directory should be.
        FileManager.default.createFile(atPath: directory + "/file", contents: Data("x".utf8))
        var request = adamwRequest(base: TrainingFixtures.path("gpt2"), output: directory + "/file/out")
        request.options.method = .loft
        let job = try FinetuneJob(request)
        do {
            try job.run()
            Issue.record("expected an error")
        } catch let error as FileError {
            #expect(error == .writeFailed(path: directory + "/file/out", reason: "cannot create the directory: \(directory)/file exists and is not a directory"))
        }
    }
}
