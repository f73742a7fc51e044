// `convert --verify` (TensorConversion.verify): the output is read back and compared with the
// input, and a difference is an error naming the tensor. The failing case uses a reader whose
// bytes change after the first read, as a disk or a concurrent writer could.

import Foundation
import Testing
import TestSupport
@testable import TensorIO

@Suite struct ConversionVerificationTests {
    /// One F32 tensor [4]; every read after the first returns other values when `drifts`.
    final class DriftingReader: TensorReader {
        let path = "memory"
        let format = "test"
        let metadata: [(key: String, value: String)] = []
        let tensors = [TensorInfo(name: "w", dtype: .F32, shape: [4])]
        let drifts: Bool
        var reads = 0
        init(drifts: Bool) { self.drifts = drifts }

        func data(for name: String) throws -> TensorData {
            reads += 1
            let buffer = ByteBuffer(count: 16)
            let values: [Float] = drifts && reads > 1 ? [1, 2, 3, 5] : [1, 2, 3, 4]
            values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }
            return TensorData(info: tensors[0], buffer: buffer)
        }
    }

    func convert(_ reader: TensorReader, to path: String) throws -> ConversionSummary {
        var options = ConversionOptions()
        options.verify = true
        return try TensorConversion.run(reader: reader, output: .safetensors(path: path), options: options)
    }

    @Test func aFaithfulOutputIsVerified() throws {
        let scratch = ScratchDirectory()
        let summary = try convert(DriftingReader(drifts: false), to: scratch.file("out.safetensors"))
        #expect(summary.verified)
    }

    @Test func aDifferenceNamesTheTensor() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("out.safetensors")
        #expect(throws: PipelineError.verificationFailed(path: out, tensor: "w", reason: "its bytes differ from the input's w")) {
            _ = try convert(DriftingReader(drifts: true), to: out)
        }
    }
}
