// loft inspect on adapter directories: one line per module, and the delta norms equal the
// norm of scale * B @ A formed explicitly.

import Foundation
import Testing
import TensorIO
import Adapters
@testable import LoftCLI

@Suite struct InspectAdapterTests {
    static func input(_ name: String) -> String { Repository.path("fixtures/combine/in-\(name)") }

    @Test(arguments: ["llama-a", "llama-mixed", "llama-emb-a", "gpt2-a"])
    func deltaNormsEqualTheExplicitProduct(_ name: String) throws {
        let adapter = try Adapter(directory: Self.input(name))
        let modules = InspectAdapter.modules(adapter)
        #expect(modules.count == adapter.updates.count)
        for (m, u) in zip(modules, adapter.updates) {
            let a = u.a, b = u.b
            var sum = 0.0
            for i in 0..<u.bRows {
                for j in 0..<u.aColumns {
                    var x = 0.0
                    for k in 0..<u.rank { x += b[i * u.rank + k] * a[k * u.aColumns + j] }
                    sum += (u.scale * x) * (u.scale * x)
                }
            }
            #expect(abs(m.deltaNorm - sum.squareRoot()) <= 1e-9 * sum.squareRoot(), "\(m.module)")
            #expect(m.rank == u.rank && m.scale == u.scale)
        }
    }

    @Test func textAndJSON() throws {
        let text = loft("inspect", Self.input("llama-mixed"))
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("(peft, 4 module(s))"))
        #expect(text.stdout.contains("model.layers.0.self_attn.v_proj  lora  r=6  alpha=4"))
        let json = try JSON.parse(loft("inspect", Self.input("llama-emb-a"), "--json").stdout)
        let modules = json["modules"]?.arrayValue ?? []
        #expect(modules.contains { $0["kind"]?.stringValue == "embedding" })
        #expect(modules.allSatisfy { ($0["delta_norm"]?.doubleValue ?? 0) > 0 })
    }
}
