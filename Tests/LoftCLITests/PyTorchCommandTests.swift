// PyTorch checkpoints through the commands (issue 11): inspect lists what is not a tensor,
// --key picks the state dict, convert writes safetensors/npz/shards, diff and eval read .bin
// models as they read safetensors, and hostile files end in one line with no output left.

import Foundation
import Testing
import TestSupport

@Suite struct PyTorchCommandTests {
    static func fixture(_ name: String) -> String { Repo.root.appendingPathComponent("fixtures/pytorch/" + name).path }
    static let text = Repo.root.appendingPathComponent("demo/text/proverbs-eval.txt").path
    static let demo = Repo.root.appendingPathComponent("demo/model").path

    @Test func inspectSaysWhereTheStateDictIsAndWhatIsNotATensor() throws {
        let lightning = loft("inspect", Self.fixture("lightning.ckpt"))
        #expect(lightning.status == 0, "\(lightning.stderr)")
        #expect(lightning.stderr.contains("note: state dict under 'state_dict'; also at the top level: epoch, global_step"), "\(lightning.stderr)")
        #expect(lightning.stdout.contains("pytorch-zip, 3 tensors"))

        let optimizer = loft("inspect", Self.fixture("nested.pt"), "--key", "optimizer", "--json")
        #expect(optimizer.status == 0, "\(optimizer.stderr)")
        #expect(optimizer.stdout.contains("\"state.0.exp_avg\"") && optimizer.stdout.contains("\"other_entries\""), "\(optimizer.stdout)")
        #expect(optimizer.stdout.contains("\"param_groups\": \"list (1 item)\""), "\(optimizer.stdout)")
        let text = loft("inspect", Self.fixture("nested.pt"), "--key", "optimizer")
        #expect(text.stdout.contains("not tensors (skipped by convert)"), "\(text.stdout)")

        let missing = loft("inspect", Self.fixture("nested.pt"), "--key", "nope")
        #expect(missing.status == 1)
        #expect(missing.stderr == "loft inspect: \(Self.fixture("nested.pt")): --key 'nope': no such entry; the top level holds epoch, model, optimizer, config\n", "\(missing.stderr)")
    }

    @Test func convertToEveryOutputAndDiff() throws {
        let scratch = ScratchDirectory()
        // safetensors, with the note about skipped entries.
        let single = loft("convert", Self.fixture("nested.pt"), scratch.file("nested.safetensors"), "--key", "optimizer")
        #expect(single.status == 0, "\(single.stderr)")
        #expect(single.stderr.contains("note: 1 non-tensor entry not read as tensors: param_groups"), "\(single.stderr)")
        // npz, then diff against torch's own answer.
        #expect(loft("convert", Self.fixture("views-legacy.pt"), scratch.file("views.npz")).status == 0)
        // NumPy keeps both names of the tied tensor; the safetensors expectation has it once.
        let diff = loft("diff", scratch.file("views.npz"), Self.fixture("expected/views.safetensors"), "--atol", "0", "--rtol", "0")
        #expect(diff.stdout.contains("0 differ, 0 missing, 1 extra") && diff.stdout.contains("only in \(scratch.file("views.npz")) (not in \(Self.fixture("expected/views.safetensors"))): lm_head.weight"), "\(diff.stdout)\(diff.stderr)")
        // A single tensor to .npy.
        #expect(loft("convert", Self.fixture("views.pt"), scratch.file("w.npy"), "--include", "weight_t").status == 0)
        // diff with --key on the PyTorch side.
        let keyed = loft("diff", Self.fixture("nested.pt"), Self.fixture("expected/nested.safetensors"), "--key", "model")
        #expect(keyed.status == 0, "\(keyed.stdout)\(keyed.stderr)")
        // --key applies to the PyTorch side only, also against a safetensors directory.
        #expect(loft("convert", Self.fixture("lightning.ckpt"), scratch.file("dir/")).status == 0)
        let directory = loft("diff", Self.fixture("lightning.ckpt"), scratch.file("dir"), "--key", "state_dict")
        #expect(directory.status == 0, "\(directory.stdout)\(directory.stderr)")
    }

    @Test func shardedBinToShardedSafetensors() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("sharded")
        let result = loft("convert", Self.fixture("gpt2-sharded"), out, "--max-shard-size", "300KB")
        #expect(result.status == 0, "\(result.stderr)")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: out))?.sorted() ?? []
        #expect(files.contains("model.safetensors.index.json") && files.contains { $0.hasPrefix("model-00001-of-") }, "\(files)")
        // The tied head is written once: the result is the safetensors model the .bin was saved from.
        let diff = loft("diff", out, Self.demo, "--atol", "0", "--rtol", "0")
        #expect(diff.status == 0, "\(diff.stdout)\(diff.stderr)")
        let index = try String(contentsOfFile: out + "/model.safetensors.index.json", encoding: .utf8)
        #expect(index.contains("\"lm_head.weight\": \"transformer.wte.weight\""), "\(index)")
    }

    /// The .bin model (lm_head tied to wte in one storage) evaluates exactly as the
    /// safetensors original it was saved from.
    @Test func evalLossOfTheBinModelEqualsTheSafetensorsOne() throws {
        let bin = loft("eval", "--base", Self.fixture("gpt2"), "--data", Self.text, "--seq", "32", "--json")
        let original = loft("eval", "--base", Self.demo, "--data", Self.text, "--seq", "32", "--json")
        #expect(bin.status == 0 && original.status == 0, "\(bin.stderr)\(original.stderr)")
        #expect(bin.stdout.contains("\"loss\""), "\(bin.stdout)")
        #expect(bin.stdout == original.stdout)
        let sharded = loft("eval", "--base", Self.fixture("gpt2-sharded"), "--data", Self.text, "--seq", "32", "--json")
        #expect(sharded.stdout == original.stdout, "\(sharded.stderr)")
    }

    /// A LLaMA saved by torch.save of its state dict (embed_tokens and lm_head one storage):
    /// converted, it is the safetensors original (the head written once, as the embedding,
    /// recorded in the metadata); evaluated, it gives the original's loss to the last digit.
    @Test func llamaBinConvertsAndEvaluatesAsTheOriginal() throws {
        let scratch = ScratchDirectory()
        let original = Repo.root.appendingPathComponent("fixtures/llama/mha-tied").path
        let converted = scratch.file("llama.safetensors")
        let convert = loft("convert", Self.fixture("llama-tied"), converted)
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stderr.contains("1 tied tensor(s) written once (they are the same bytes; the name is kept in the metadata): lm_head.weight = model.embed_tokens.weight"), "\(convert.stderr)")
        let tensors = loft("diff", converted, original + "/model.safetensors", "--atol", "0", "--rtol", "0")
        #expect(tensors.status == 0, "\(tensors.stdout)")
        #expect(loft("inspect", converted).stdout.contains("lm_head.weight  model.embed_tokens.weight"))
        let tokens = Repo.root.appendingPathComponent("fixtures/llamatrain/tokens.npy").path
        let bin = loft("eval", "--base", Self.fixture("llama-tied"), "--data", tokens, "--seq", "16", "--json")
        let safetensors = loft("eval", "--base", original, "--data", tokens, "--seq", "16", "--json")
        #expect(bin.status == 0 && safetensors.status == 0, "\(bin.stderr)\(safetensors.stderr)")
        #expect(bin.stdout.contains("\"loss\""), "\(bin.stdout)")
        #expect(bin.stdout.replacingOccurrences(of: Self.fixture("llama-tied"), with: "BASE") == safetensors.stdout.replacingOccurrences(of: original, with: "BASE"))
    }

    @Test func generateReadsABinModel() throws {
        let bin = loft("generate", "--base", Self.fixture("gpt2"), "--prompt", "A stitch", "--max-tokens", "8", "--temperature", "0")
        let original = loft("generate", "--base", Self.demo, "--prompt", "A stitch", "--max-tokens", "8", "--temperature", "0")
        #expect(bin.status == 0, "\(bin.stderr)")
        #expect(bin.stdout == original.stdout)
    }

    /// finetune and merge take a .bin base: the adapter trained on it is the one trained on
    /// the safetensors original, and merging it into either gives the same values (the .bin
    /// base also carries its tied lm_head.weight, which the safetensors file leaves out).
    @Test func finetuneAndMergeOnABinBase() throws {
        let scratch = ScratchDirectory()
        for (base, out) in [(Self.fixture("gpt2"), "bin"), (Self.demo, "st")] {
            let run = loft("finetune", "--base", base, "--data", Self.text, "--steps", "2", "--batch", "1", "--seq", "16", "--out", scratch.file(out))
            #expect(run.status == 0, "\(run.stderr)")
        }
        #expect(FileManager.default.contentsEqual(atPath: scratch.file("bin/adapter_model.safetensors"), andPath: scratch.file("st/adapter_model.safetensors")))
        let merged = loft("merge", "--base", Self.fixture("gpt2"), "--adapter", scratch.file("st"), "--out", scratch.file("m-bin.safetensors"))
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(loft("merge", "--base", Self.demo, "--adapter", scratch.file("st"), "--out", scratch.file("m-st.safetensors")).status == 0)
        let diff = loft("diff", scratch.file("m-bin.safetensors"), scratch.file("m-st.safetensors"), "--atol", "0", "--rtol", "0")
        #expect(diff.stdout.contains("52 tensor(s) compared, 0 differ, 0 missing, 1 extra"), "\(diff.stdout)")
    }

    @Test(arguments: ["os-system.pt", "whole-module.pt", "offset-past-end.pt", "truncated-zip.pt", "mark-bomb.pt", "storage-numel-lies.pt"])
    func hostileFilesLeaveNoOutput(_ file: String) throws {
        let scratch = ScratchDirectory()
        let path = Self.fixture("hostile/" + file)
        let result = loft("convert", path, scratch.file("out.safetensors"))
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("loft convert: \(path): ") && result.stderr.filter { $0 == "\n" }.count == 1, "\(result.stderr)")
        #expect(scratch.contents().isEmpty, "\(scratch.contents())")
    }
}
