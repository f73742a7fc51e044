// `loft inspect ADAPTER_DIR`'s numbers (AdapterSummary): the delta norm from the r x r Gram
// matrices equals the norm of the explicit product scale · B A, for PEFT, DoRA, MLX-LM and
// GPT-2 (Conv1D) adapters; and inspect tells an adapter directory from a model directory.

import Foundation
import Testing
import TestSupport
@testable import Adapters

@Suite struct AdapterSummaryTests {
    @Test(arguments: ["peft-llama-lora", "peft-llama-dora", "mlx-llama-lora", "peft-gpt2-lora", "peft-llama-rslora-patterns"])
    func deltaNormIsTheNormOfTheProduct(_ name: String) throws {
        let adapter = try Adapter(directory: Fixture.path(name))
        let summary = AdapterSummary(adapter)
        #expect(summary.modules.count == adapter.updates.count && !summary.modules.isEmpty)
        for (module, update) in zip(summary.modules, adapter.updates) {
            let (a, b, r) = (update.a, update.b, update.rank)
            var squared = 0.0
            for row in 0..<update.bRows {
                for column in 0..<update.aColumns {
                    var value = 0.0
                    for k in 0..<r { value += b[row * r + k] * a[k * update.aColumns + column] }
                    squared += value * value
                }
            }
            let explicit = abs(update.scale) * squared.squareRoot()
            #expect(abs(module.deltaNorm - explicit) <= 1e-12 * max(1, explicit), "\(name): \(module.module) \(module.deltaNorm) vs \(explicit)")
            #expect(module.deltaNorm > 0)
            #expect(module.rank == r && module.rows == update.bRows && module.columns == update.aColumns)
        }
    }

    @Test func adapterDirectoriesAreToldApart() {
        #expect(Adapter.isAdapterDirectory(Fixture.path("peft-llama-lora")))
        #expect(Adapter.isAdapterDirectory(Fixture.path("mlx-llama-lora")))
        #expect(!Adapter.isAdapterDirectory(Fixture.path("llama-sharded")))
        #expect(!Adapter.isAdapterDirectory(Fixture.path("llama-base.safetensors")))
    }
}

/// `loft diff` on adapters (AdapterDiff): the Gram-matrix difference equals the norm of the
/// explicit difference of the two deltas, across ranks; an adapter equals itself.
@Suite struct AdapterDiffTests {
    static func delta(_ update: LowRankUpdate) -> [Double] {
        let (a, b, r) = (update.a, update.b, update.rank)
        var out = [Double](repeating: 0, count: update.bRows * update.aColumns)
        for row in 0..<update.bRows {
            for column in 0..<update.aColumns {
                var value = 0.0
                for k in 0..<r { value += b[row * r + k] * a[k * update.aColumns + column] }
                out[row * update.aColumns + column] = update.scale * value
            }
        }
        return out
    }

    @Test func differenceIsTheNormOfTheExplicitDifference() throws {
        let (a, b) = (Fixture.path("peft-llama-lora"), Fixture.path("peft-llama-second"))
        let report = try AdapterDiff.compare(a, b, atol: 1e-8, rtol: 1e-5)
        #expect(!report.modules.isEmpty && !report.agrees)
        let left = try Adapter(directory: a), right = try Adapter(directory: b)
        for module in report.modules {
            let x = Self.delta(left.updates.first { $0.module == module.module }!)
            let y = Self.delta(right.updates.first { $0.module == module.module }!)
            let explicit = zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            #expect(abs(module.difference - explicit) <= 1e-9 * max(1, explicit), "\(module.module): \(module.difference) vs \(explicit)")
        }
        #expect(!report.extra.isEmpty)
        let same = try AdapterDiff.compare(a, a, atol: 1e-8, rtol: 1e-5)
        #expect(same.agrees && same.modules.allSatisfy { $0.difference == 0 }, "an adapter differs from itself by exactly 0")
    }
}
