// FinetuneJob's llama.cpp adapter on a GGUF base (fixtures/quantbase/llama-q8_0.gguf): the
// file is written and listed; an adapter llama.cpp cannot load (DoRA here, the PEFT fixture
// fixtures/adapters/peft-llama-dora put in the run's place) is a note, not an error, and the
// adapter.gguf already there is removed rather than left beside an adapter it does not match.

import Foundation
import Testing
import TensorIO
@testable import Training

@Suite struct GGUFAdapterOutputTests {
    @Test func anAdapterLlamaCppCannotLoadIsANoteAndNoFile() throws {
        let directory = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = SystemPath.join(directory, "run")
        var request = FinetuneRequest(base: Repository.path("fixtures/quantbase/llama-q8_0.gguf"),
                                      data: Repository.path("fixtures/quantbase/tokens.npy"), output: output)
        request.batch = 2
        request.sequence = 16
        request.options.steps = 1
        let job = try FinetuneJob(request)
        let summary = try job.run()
        #expect(summary.ggufAdapter == "adapter.gguf")
        #expect(summary.outputFiles.last == "adapter.gguf")
        #expect(summary.notes.isEmpty)
        let gguf = SystemPath.join(output, "adapter.gguf")
        #expect(PathStatus.exists(gguf))

        let dora = Repository.path("fixtures/adapters/peft-llama-dora")
        for name in ["adapter_model.safetensors", "adapter_config.json"] {
            try FileManager.default.removeItem(atPath: SystemPath.join(output, name))
            try FileManager.default.copyItem(atPath: SystemPath.join(dora, name), toPath: SystemPath.join(output, name))
        }
        let (file, notes) = try job.writeGGUFAdapter()
        #expect(file == nil)
        #expect(notes.count == 1)
        #expect(notes.first?.hasPrefix("no adapter.gguf (llama.cpp's LoRA format): ") == true, "\(notes)")
        #expect(notes.first?.contains("is DoRA") == true, "\(notes)")
        #expect(!PathStatus.exists(gguf))
    }
}
