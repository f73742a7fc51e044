// `loft convert --verify`: after the output is written, it is opened again like any input
// (TensorFile: the bytes decide the format, shards through their index) and every tensor is
// compared byte for byte with what the conversion meant to write: the input tensor read and
// cast again. A tensor written once for two tied names is checked under both. This catches
// what a reader of the output would meet (a truncated shard, a wrong offset, a cast that went
// astray); it costs a second read of input and output.

import Glibc

extension TensorConversion {
    /// Compares the written files with the plan; throws PipelineError.verificationFailed.
    static func verify(_ output: ConversionOutput, steps: [Step], aliased: [(step: Step, kept: String)], reader: TensorReader) throws {
        let written: TensorReader
        do {
            written = try TensorFile.open(output.path)
        } catch {
            throw PipelineError.verificationFailed(path: output.path, tensor: nil, reason: "cannot be read back: \(error)")
        }
        let pool = BufferPool()
        let checks = steps.map { ($0, $0.output.name) } + aliased.map { ($0.step, $0.kept) }
        for (step, name) in checks {
            let expected = try prepared(step, reader: reader, pool: pool)
            let actual: TensorData
            do {
                actual = try written.data(for: name)
            } catch {
                throw PipelineError.verificationFailed(path: output.path, tensor: name, reason: "cannot be read back: \(error)")
            }
            guard actual.info.dtype == expected.info.dtype, actual.info.shape == expected.info.shape else {
                throw PipelineError.verificationFailed(path: output.path, tensor: name,
                    reason: "reads back as \(actual.info.dtype.rawValue) \(actual.info.shape), expected \(expected.info.dtype.rawValue) \(expected.info.shape)")
            }
            let same = actual.bytes.count == expected.bytes.count
                && (actual.bytes.isEmpty || memcmp(actual.bytes.baseAddress!, expected.bytes.baseAddress!, actual.bytes.count) == 0)
            guard same else {
                throw PipelineError.verificationFailed(path: output.path, tensor: name, reason: "its bytes differ from the input's \(step.source.name)")
            }
            if let buffer = (expected.owner as? PooledBuffer)?.buffer { pool.give(buffer) }
            reader.release(step.source.name)
            written.release(name)
        }
    }
}
