// loft extract from the command line: PEFT's merge_and_unload of a rank-4 adapter (a fixture)
// extracted at rank 4 gives back every module with only float32 rounding as error; usage
// errors exit 64, failures 1, and leave nothing.

import Foundation
import Testing
import TensorIO
@testable import LoftCLI

@Suite struct ExtractCommandTests {
    static func adapters(_ name: String) -> String { Repository.root.appendingPathComponent("fixtures/adapters/\(name)").path }

    @Test func aMergedRankFourAdapterComesBackAtRankFour() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("lora")
        let result = loft("extract", "--base", Self.adapters("llama-base.safetensors"), "--tuned", Self.adapters("expected-llama-lora.safetensors"),
                          "--rank", "4", "--out", out, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSON.parse(result.stdout)
        let modules = json["modules"]?.arrayValue ?? []
        // peft-llama-lora: r = 4 on the 7 projections of both layers.
        #expect(modules.count == 14)
        for module in modules {
            #expect(module["kind"]?.stringValue == "lora")
            #expect(module["rank"]?.intValue == 4)
            #expect((module["relative_error"]?.doubleValue ?? 1) < 1e-5, "\(module)")
        }
        #expect(json["unchanged"]?.intValue == 7)
        #expect(FileManager.default.fileExists(atPath: out + "/adapter_model.safetensors"))
    }

    @Test func usageErrorsExit64AndFailuresExit1() {
        let scratch = ScratchDirectory()
        let base = Self.adapters("llama-base.safetensors"), tuned = Self.adapters("expected-llama-lora.safetensors"), out = scratch.file("x")
        for (arguments, message) in [
            (["--rank", "0"], "--rank must be a positive integer"),
            (["--rank", "4", "--energy", "1.5"], "--energy must be in (0, 1]"),
            (["--rank", "4", "--sv-epsilon", "-1"], "--sv-epsilon"),
            (["--rank", "4", "--targets", "q_proj,"], "--targets"),
        ] {
            let result = loft(["extract", "--base", base, "--tuned", tuned, "--out", out] + arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.hasPrefix("loft extract: ") && result.stderr.contains(message), "\(result.stderr)")
        }
        let same = loft("extract", "--base", base, "--tuned", base, "--rank", "4", "--out", out)
        #expect(same.status == 1 && same.stderr.contains("nothing to extract"), "\(same.stderr)")
        let other = loft("extract", "--base", base, "--tuned", Self.adapters("gpt2-base.safetensors"), "--rank", "4", "--out", out)
        #expect(other.status == 1 && other.stderr.contains("no such tensor in the base"), "\(other.stderr)")
        #expect(scratch.contents().isEmpty)
    }
}
