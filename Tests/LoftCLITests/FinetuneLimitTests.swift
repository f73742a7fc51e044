// `loft finetune` and `loft experiment factorization` refuse a run they cannot hold before
// allocating it. finetune --rank 100000 on the demo
// model (64 wide) used to abort with "failed to allocate 80000800032 bytes" (exit 134).

import Foundation
import Testing

@Suite struct FinetuneLimitTests {
    @Test func rankLargerThanEveryModuleIsAUsageErrorNotACrash() throws {
        let scratch = ScratchDirectory()
        let demo = Repo.root.appendingPathComponent("demo").path
        let result = loft("finetune", "--base", demo + "/model", "--data", demo + "/text/proverbs.txt",
                          "--rank", "100000", "--steps", "1", "--out", scratch.file("x"))
        #expect(result.status == 1 || result.status == 64)
        #expect(result.stderr.contains("--rank 100000") && result.stderr.contains("at most 64"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x")))
    }

    @Test func llamaTargetsAreNamedWhenAGpt2ModuleIsAsked() throws {
        let scratch = ScratchDirectory()
        // The demo model is GPT-2: a LLaMA projection name is refused with GPT-2's own names.
        let demo = Repo.root.appendingPathComponent("demo").path
        let result = loft("finetune", "--base", demo + "/model", "--data", demo + "/text/proverbs.txt",
                          "--targets", "q_proj", "--steps", "1", "--out", scratch.file("x"))
        #expect(result.status != 0)
        #expect(result.stderr.contains("q_proj") && result.stderr.contains("c_attn"), "\(result.stderr)")
    }

    /// `loft experiment factorization --m 100000 --n 100000` (240 GB of m x n matrices) is
    /// refused before anything is allocated or written.
    @Test func factorizationTooLargeForMemoryIsAUsageError() throws {
        let scratch = ScratchDirectory()
        let result = loft("experiment", "factorization", "--m", "100000", "--n", "100000", "--out", scratch.file("x"))
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("loft experiment factorization: --m 100000 --n 100000 needs at least"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x")))
    }
}
