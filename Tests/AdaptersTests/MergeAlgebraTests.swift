// The merge is linear where it should be: subtracting an adapter returns the base within
// rounding, and two weighted adapters give base + w1 s1 B1 A1 + w2 s2 B2 A2 exactly (no cross
// terms), checked against the sum computed here with plain loops in float64.

import Testing
import TensorIO
@testable import Adapters

@Suite struct MergeAlgebraTests {
    @Test func mergeThenSubtractReturnsTheBase() throws {
        let scratch = ScratchDirectory()
        let merged = scratch.file("merged.safetensors")
        let restored = scratch.file("restored.safetensors")
        let adapter = [AdapterSource(path: Fixture.path("peft-llama-lora"))]
        try merge(base: Fixture.path("llama-base.safetensors"), adapters: adapter, out: merged)
        try merge(base: merged, adapters: adapter, out: restored) { $0.subtract = true }
        let base = try LoadedTensors(Fixture.path("llama-base.safetensors"))
        let back = try LoadedTensors(restored)
        let first = try LoadedTensors(merged)
        for name in base.names {
            let worst = zip(back.values[name]!, base.values[name]!).map { abs($0 - $1) }.max()!
            // Two roundings to float32 (merge, unmerge): within an ulp or so of the merged values.
            #expect(worst <= 2 * float32Tolerance(first.values[name]!), "\(name): \(worst)")
        }
        let report = try merge(base: merged, adapters: adapter, out: scratch.file("again.safetensors")) { $0.subtract = true }
        #expect(report.modules.allSatisfy { $0.weight == -1 })
    }

    @Test func twoWeightedAdaptersAddTheirExactDeltas() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("merged.safetensors")
        let first = AdapterSource(path: Fixture.path("peft-llama-lora"), weight: 0.7)
        let second = AdapterSource(path: Fixture.path("peft-llama-second"), weight: -0.25)
        try merge(base: Fixture.path("llama-base.safetensors"), adapters: [first, second], out: out)
        let merged = try LoadedTensors(out)
        let base = try LoadedTensors(Fixture.path("llama-base.safetensors"))
        var expected = base.values
        for source in [first, second] {
            for update in try Adapter(directory: source.path).updates {
                let name = update.module + ".weight"
                for i in 0..<update.bRows {
                    for j in 0..<update.aColumns {
                        var sum = 0.0
                        for k in 0..<update.rank { sum += update.b[i * update.rank + k] * update.a[k * update.aColumns + j] }
                        expected[name]![i * update.aColumns + j] += source.weight * update.scale * sum
                    }
                }
            }
        }
        var touchedByBoth = 0
        for name in base.names {
            let rounded = expected[name]!.map { Double(Float($0)) }
            let worst = zip(merged.values[name]!, rounded).map { abs($0 - $1) }.max()!
            // Float(x) rounds to nearest even, as the merge does: at most an ulp apart where the
            // float64 sums round differently at a tie.
            #expect(worst <= Double(Float(rounded.map(abs).max()!).ulp), "\(name): \(worst)")
            if name.hasSuffix("q_proj.weight") || name.hasSuffix("o_proj.weight") { touchedByBoth += 1 }
        }
        #expect(touchedByBoth == 4)
    }

    @Test func outputDtypeRoundsTheMergedSumOnce() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("merged-bf16.safetensors")
        let report = try merge(base: Fixture.path("llama-base.safetensors"), adapters: [AdapterSource(path: Fixture.path("peft-llama-lora"))], out: out) {
            $0.dtype = .BF16
        }
        #expect(report.tensorsConverted == 7 && report.tensorsMerged == 14)
        let merged = try LoadedTensors(out)
        let f32 = try LoadedTensors(Fixture.path("expected-llama-lora.safetensors"))
        for name in merged.names {
            #expect(merged.infos[name]!.dtype == .BF16)
            let worst = zip(merged.values[name]!, f32.values[name]!).map { abs($0 - $1) / max(abs($1), 1e-30) }.max()!
            #expect(worst <= 1.0 / 256, "\(name)")  // half a bf16 ulp, relative
        }
    }
}
