// `mpirun -np N loft finetune` (docs/distributed.md): N data-parallel ranks give the run one
// process gives with the same global batch, up to float32 summation order; a rank lost
// mid-run ends the job and leaves the last checkpoint, which any number of ranks resumes.
//
// Tolerance (the bound docs/distributed.md states): per-step train and eval losses within
// 1e-5 relative; LoRA/LoFT adapters within 1e-3 in ||delta_N - delta_1||_F / ||delta_1||_F
// per module (loft diff's measure); full AdamW weights within 1e-5 absolute. Measured on
// these fixtures: losses <= 1.1e-7, adapters <= 5.4e-5, weights <= 1.2e-7.

import Foundation
import Testing

@Suite(.serialized) struct DistributedFinetuneTests {
    struct Fixture: CustomTestStringConvertible, Sendable {
        let name: String
        let base: String
        let data: String
        var testDescription: String { name }
    }

    static let gpt2 = Fixture(name: "gpt2", base: Repository.path("fixtures/training/gpt2"), data: Repository.path("fixtures/training/tokens.npy"))
    static let llama = Fixture(name: "llama", base: Repository.path("fixtures/llama/mha-tied"), data: Repository.path("fixtures/llamatrain/tokens.npy"))

    static func arguments(_ fixture: Fixture, method: String, steps: Int = 4, out: String) -> [String] {
        var arguments = ["finetune", "--base", fixture.base, "--data", fixture.data, "--eval-fraction", "0.1", "--steps", "\(steps)",
                         "--batch", "4", "--seq", "16", "--eval-interval", "2", "--optimizer", method, "--out", out]
        if method == "adamw" { arguments += ["--targets", "all"] }
        return arguments
    }

    static func single(_ arguments: [String]) throws -> ProcessResult {
        try Processes.run(try #require(Repository.binary), arguments)
    }

    /// (step, loss, eval loss) of every log.jsonl entry.
    static func log(_ directory: String) throws -> [(Int, Double?, Double?)] {
        let text = try String(contentsOfFile: directory + "/log.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return (try #require(object["step"] as? Int), object["loss"] as? Double, object["eval_loss"] as? Double)
        }
    }

    static func expectSameLosses(_ directory: String, _ reference: String) throws {
        let a = try log(directory), b = try log(reference)
        #expect(a.map(\.0) == b.map(\.0))
        for (x, y) in zip(a, b) {
            for (p, q) in [(x.1, y.1), (x.2, y.2)] {
                #expect((p == nil) == (q == nil))
                if let p, let q { #expect(abs(p - q) <= 1e-5 * abs(q), "step \(x.0): \(p) vs \(q)") }
            }
        }
    }

    /// The largest difference `loft diff --json` reports: per-module relative (adapters) or
    /// per-tensor max abs (full checkpoints).
    static func difference(_ a: String, _ b: String) throws -> Double {
        let result = try single(["diff", a, b, "--atol", "0", "--rtol", "0", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        if let modules = object["modules"] as? [[String: Any]], !modules.isEmpty {
            return modules.compactMap { $0["relative"] as? Double }.max() ?? .infinity
        }
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        return tensors.compactMap { $0["max_abs"] as? Double }.max() ?? .infinity
    }

    static func expectSameModel(_ directory: String, _ reference: String, method: String) throws {
        if method == "adamw" {
            let d = try difference(directory + "/model.safetensors", reference + "/model.safetensors")
            #expect(d <= 1e-5, "weights differ by \(d)")
        } else {
            let d = try difference(directory, reference)
            #expect(d <= 1e-3, "adapters differ by \(d) relative")
        }
    }

    @Test(.requiresMPI, arguments: [gpt2, llama], ["loft", "lora", "adamw"])
    func ranksTrainAsOneProcess(fixture: Fixture, method: String) throws {
        let scratch = ScratchDirectory()
        let one = scratch.file("n1")
        let reference = try Self.single(Self.arguments(fixture, method: method, out: one))
        #expect(reference.status == 0, "\(reference.stderr)")
        for ranks in [2, 4] {
            let out = scratch.file("n\(ranks)")
            let run = try MPI.run(ranks: ranks, try #require(Repository.binary), Self.arguments(fixture, method: method, out: out))
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("\(ranks) MPI ranks"), "\(run.stdout)")
            try Self.expectSameLosses(out, one)
            try Self.expectSameModel(out, one, method: method)
        }
    }

    /// MPICH's launcher (Hydra) works as Open MPI's: same result as one process.
    @Test(.requiresMPICH) func mpichRanksTrainAsOneProcess() throws {
        let scratch = ScratchDirectory()
        let one = scratch.file("n1"), two = scratch.file("n2")
        let reference = try Self.single(Self.arguments(Self.llama, method: "loft", out: one))
        #expect(reference.status == 0, "\(reference.stderr)")
        let run = try MPI.runMPICH(ranks: 2, try #require(Repository.binary), Self.arguments(Self.llama, method: "loft", out: two))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("2 MPI ranks"), "\(run.stdout)")
        try Self.expectSameLosses(two, one)
        try Self.expectSameModel(two, one, method: "loft")
    }

    /// Rank 1 dies (SIGKILL) as it starts step 6 of 8; checkpoints are every 2 steps. Rank 0
    /// wrote step 4's before it could finish step 5's all-reduce, and nothing after. The job
    /// ends, saying which rank; checkpoint/ holds step 4; one process resumes it and ends
    /// where an uninterrupted run ends.
    @Test(.requiresMPI) func aLostRankLeavesTheLastCheckpointToResume() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("run"), whole = scratch.file("whole")
        let binary = try #require(Repository.binary)
        let killed = try MPI.run(ranks: 2, binary, Self.arguments(Self.gpt2, method: "loft", steps: 8, out: out),
                                 extra: ["LOFT_TEST_KILL_RANK_AT_STEP": "1:5"])
        #expect(killed.status != 0)
        #expect(killed.stderr.contains("rank 1") && killed.stderr.contains("signal 9"), "\(killed.stderr)")
        let trainer = try String(contentsOfFile: out + "/checkpoint/trainer.json", encoding: .utf8)
        #expect(trainer.contains("\"step\": 4"), "\(trainer)")
        #expect(!FileManager.default.fileExists(atPath: out + "/adapter_model.safetensors"))

        let resumed = try Self.single(Self.arguments(Self.gpt2, method: "loft", steps: 8, out: out) + ["--resume", out])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming at step 4"), "\(resumed.stdout)")
        let reference = try Self.single(Self.arguments(Self.gpt2, method: "loft", steps: 8, out: whole))
        #expect(reference.status == 0, "\(reference.stderr)")
        try Self.expectSameLosses(out, whole)
        try Self.expectSameModel(out, whole, method: "loft")
    }

    /// A checkpoint written by one process is resumed by two ranks (it does not depend on N).
    @Test(.requiresMPI) func twoRanksResumeAOneProcessCheckpoint() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("run"), whole = scratch.file("whole")
        let binary = try #require(Repository.binary)
        let first = try Self.single(Self.arguments(Self.llama, method: "lora", steps: 6, out: out) + ["--stop-after", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try MPI.run(ranks: 2, binary, Self.arguments(Self.llama, method: "lora", steps: 6, out: out) + ["--resume", out])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming at step 2"), "\(resumed.stdout)")
        let reference = try Self.single(Self.arguments(Self.llama, method: "lora", steps: 6, out: whole))
        try Self.expectSameLosses(out, whole)
        try Self.expectSameModel(out, whole, method: "lora")
    }

    /// An error on a rank ends every rank (MPI_Abort) with loft's message and status; nothing
    /// is written. Here every rank refuses a global batch smaller than the job.
    @Test(.requiresMPI) func anErrorOnARankEndsTheJobWithItsMessage() throws {
        let scratch = ScratchDirectory()
        var arguments = Self.arguments(Self.gpt2, method: "loft", out: scratch.file("o"))
        arguments[arguments.firstIndex(of: "--batch")! + 1] = "1"
        let result = try MPI.run(ranks: 2, try #require(Repository.binary), arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains("loft finetune (rank 1 of 2): --batch must be at least the number of MPI ranks (2) (got 1)"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o")))
    }

    /// A run killed between the two renames of a checkpoint swap leaves checkpoint.previous/
    /// (and a complete checkpoint.partial/): --resume reads the previous one, and the next
    /// save tidies both away.
    @Test(.requiresBinary) func aRunKilledMidSwapResumesFromThePreviousCheckpoint() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("run"), whole = scratch.file("whole")
        let first = try Self.single(Self.arguments(Self.gpt2, method: "lora", steps: 4, out: out) + ["--stop-after", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        let files = FileManager.default
        try files.moveItem(atPath: out + "/checkpoint", toPath: out + "/checkpoint.previous")
        try files.copyItem(atPath: out + "/checkpoint.previous", toPath: out + "/checkpoint.partial")
        let resumed = try Self.single(Self.arguments(Self.gpt2, method: "lora", steps: 4, out: out) + ["--resume", out])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming at step 2"), "\(resumed.stdout)")
        #expect(files.fileExists(atPath: out + "/checkpoint/trainer.json"))
        #expect(!files.fileExists(atPath: out + "/checkpoint.previous") && !files.fileExists(atPath: out + "/checkpoint.partial"))
        let reference = try Self.single(Self.arguments(Self.gpt2, method: "lora", steps: 4, out: whole))
        #expect(reference.status == 0)
        // Bit for bit (tensor by tensor: loft diff's per-module products are threaded sums).
        #expect(try Self.difference(out + "/adapter_model.safetensors", whole + "/adapter_model.safetensors") == 0)
    }

    /// Started as if by mpirun, with no MPI library to load: a clear error, no training alone.
    @Test(.requiresBinary) func aLauncherWithoutTheLibraryIsAClearError() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_COMM_WORLD_SIZE"] = "2"
        environment["LOFT_MPI_LIBRARY"] = "/nonexistent/libmpi.so.40"
        let scratch = ScratchDirectory()
        let result = try Processes.run(try #require(Repository.binary), Self.arguments(Self.gpt2, method: "loft", out: scratch.file("o")),
                                       environment: environment)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("loft finetune: started by mpirun, but the MPI library /nonexistent/libmpi.so.40 could not be loaded"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o")))
    }

    /// Two hosts made of network namespaces, Open MPI over TCP between them (the script checks
    /// the same equivalence and removes what it made).
    @Test(.requiresNetworkNamespaces) func twoNetworkNamespacesTrainAsOneProcess() throws {
        let result = try Processes.run("/bin/bash", [Repository.path("scripts/mpi-netns.sh"), try #require(Repository.binary)],
                                       environment: MPI.environment)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("equivalent"), "\(result.stdout)")
    }
}
