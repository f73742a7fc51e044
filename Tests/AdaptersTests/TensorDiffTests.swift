// loft diff's comparison: numpy.allclose's rule per element, missing and extra tensors,
// dtype and shape mismatches.

import Testing
@testable import TensorIO
@testable import Adapters

@Suite struct TensorDiffTests {
    let scratch = ScratchDirectory()

    func write(_ name: String, _ tensors: [TensorData]) throws -> String {
        let path = scratch.file(name)
        try SafetensorsWriter.write(to: path, tensors: tensors)
        return path
    }

    @Test func aFileAgreesWithItself() throws {
        let path = Fixture.path("llama-base.safetensors")
        let report = try TensorDiff.compare(path, path, atol: 0, rtol: 0)
        #expect(report.agrees && report.tensors.count == 21)
        #expect(report.tensors.allSatisfy { $0.maxAbsolute == 0 && $0.maxRelative == 0 })
    }

    @Test func toleranceIsAllcloseRelativeToB() throws {
        // |a - b| <= atol + rtol * |b|: with atol 0, rtol 0.1: 1.1 vs 1 is close (0.1 <= 0.1),
        // 1 vs 1.1 is close too (0.1 <= 0.11), 1.0 vs 0.9 is not (0.1 > 0.09).
        let a = try write("a.safetensors", [f32Tensor("x", [3], [1.1, 1, 1])])
        let b = try write("b.safetensors", [f32Tensor("x", [3], [1, 1.1, 0.9])])
        let report = try TensorDiff.compare(a, b, atol: 0, rtol: 0.1000001)
        let x = try #require(report.tensors.first)
        #expect(x.notClose == 1)
        #expect(abs(x.maxAbsolute - 0.1) < 1e-6)
        #expect(abs(x.maxRelative - 0.1 / 0.9) < 1e-6)
        #expect(!report.agrees)
        #expect(try TensorDiff.compare(a, b, atol: 0.11, rtol: 0).agrees)
    }

    @Test func nanNeverAgreesAndInfinityOnlyWithItself() throws {
        let a = try write("a.safetensors", [f32Tensor("x", [3], [.nan, .infinity, -.infinity])])
        let b = try write("b.safetensors", [f32Tensor("x", [3], [.nan, .infinity, .infinity])])
        #expect(try TensorDiff.compare(a, b).tensors[0].notClose == 2)
    }

    @Test func missingExtraDtypeAndShapeAreReported() throws {
        let a = try write("a.safetensors", [
            f32Tensor("same", [2], [1, 2]), f32Tensor("only-a", [1], [0]), f32Tensor("reshaped", [2, 1], [1, 2]),
        ])
        let b = try write("b.safetensors", [
            f32Tensor("same", [2], [1, 2]), f32Tensor("only-b", [1], [0]), f32Tensor("reshaped", [1, 2], [1, 2]),
        ])
        let report = try TensorDiff.compare(a, b)
        #expect(report.missing == ["only-b"] && report.extra == ["only-a"])
        let reshaped = try #require(report.tensors.first { $0.name == "reshaped" })
        #expect(!reshaped.shapeMatches && !reshaped.compared && !reshaped.agrees)
        #expect(report.tensors.first { $0.name == "same" }!.agrees)
        #expect(!report.agrees)

        let bf16 = scratch.file("bf16.safetensors")
        let f32 = try write("f32.safetensors", [f32Tensor("x", [2], [1, 2])])
        try SafetensorsWriter.write(to: bf16, tensors: [try DTypeConversion.convert(f32Tensor("x", [2], [1, 2]), to: .BF16)])
        let mixed = try TensorDiff.compare(bf16, f32)
        #expect(mixed.tensors[0].notClose == 0 && !mixed.tensors[0].dtypeMatches && !mixed.agrees)
    }

    @Test func aMergeDiffersFromItsBaseOnlyWhereTheAdapterActs() throws {
        let report = try TensorDiff.compare(Fixture.path("expected-llama-dora.safetensors"), Fixture.path("llama-base.safetensors"), atol: 0, rtol: 0)
        let differing = Set(report.tensors.filter { !$0.agrees }.map(\.name))
        #expect(differing == Set((0..<2).flatMap { layer in
            ["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"].map { "model.layers.\(layer).\($0).weight" }
        }))
    }
}
