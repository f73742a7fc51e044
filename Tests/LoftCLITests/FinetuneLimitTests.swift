// `loft finetune` refuses a run it cannot hold before allocating it: --rank 100000 on the demo
// model (64 wide) used to abort with "failed to allocate 80000800032 bytes" (exit 134).

import Foundation
import Testing

@Suite struct FinetuneLimitTests {
    @Test func rankLargerThanEveryModuleIsAUsageErrorNotACrash() throws {
        let scratch = try ScratchDirectory()
        let demo = Repo.root.appendingPathComponent("demo").path
        let result = loft("finetune", "--base", demo + "/model", "--data", demo + "/text/proverbs.txt",
                          "--rank", "100000", "--steps", "1", "--out", scratch.file("x"))
        #expect(result.status == 1 || result.status == 64)
        #expect(result.stderr.contains("--rank 100000") && result.stderr.contains("at most 64"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x")))
    }

    @Test func llamaTargetsAreNamedWhenAGpt2ModuleIsAsked() throws {
        let scratch = try ScratchDirectory()
        // The demo model is GPT-2: a LLaMA projection name is refused with GPT-2's own names.
        let demo = Repo.root.appendingPathComponent("demo").path
        let result = loft("finetune", "--base", demo + "/model", "--data", demo + "/text/proverbs.txt",
                          "--targets", "q_proj", "--steps", "1", "--out", scratch.file("x"))
        #expect(result.status != 0)
        #expect(result.stderr.contains("q_proj") && result.stderr.contains("c_attn"), "\(result.stderr)")
    }
}
