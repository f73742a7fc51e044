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
