// Files loft writes, read back by the Python reference (safetensors.numpy.load_file) at test
// time. Skipped, with a note, when python3 with numpy, ml_dtypes and safetensors is missing.

import Foundation
import Testing
@testable import TensorIO

@Suite struct SafetensorsPythonRoundTripTests {
    /// Loads the file with the reference and prints name, dtype name, shape and bytes per tensor.
    static let loadScript = """
    import sys, json, ml_dtypes
    from safetensors.numpy import load_file
    from safetensors import safe_open
    tensors = load_file(sys.argv[1])
    with safe_open(sys.argv[1], framework="np") as f:
        meta = f.metadata()
    out = {"metadata": meta, "tensors": {k: [str(v.dtype), list(v.shape), v.tobytes().hex()] for k, v in tensors.items()}}
    print(json.dumps(out, sort_keys=True))
    """

    @Test(.requiresPython("numpy", "safetensors", "ml_dtypes")) func referenceReadsWhatLoftWrites() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("loft.safetensors")
        let half: [UInt16] = [0x3C00, 0xC000, 0x7C00]  // 1, -2, inf
        let tensors = [
            f32Tensor("layer.0/weight", [1, -2.5, .infinity, 0], shape: [2, 2]),
            tensorData(TensorInfo(name: "ünïcode \"quoted\"", dtype: .F16, shape: [3]), half.withUnsafeBytes { Array($0) }),
            tensorData(TensorInfo(name: "scalar", dtype: .I64, shape: []), Int64(-7).littleEndianBytes),
            tensorData(TensorInfo(name: "empty", dtype: .U8, shape: [0, 3]), []),
            tensorData(TensorInfo(name: "bf16", dtype: .BF16, shape: [2]), [0x80, 0x3F, 0x00, 0xC0]),
            tensorData(TensorInfo(name: "flags", dtype: .BOOL, shape: [3]), [1, 0, 1]),
        ]
        try SafetensorsWriter.write(to: path, tensors: tensors, metadata: [("format", "pt")])
        let output = try Python.output(Self.loadScript, [path])
        let result = try JSON.parse(output)
        #expect(result["metadata"]?["format"] == .string("pt"))
        let loaded = try #require(result["tensors"])
        let numpyNames: [DType: String] = [.F32: "float32", .F16: "float16", .I64: "int64", .U8: "uint8", .BF16: "bfloat16", .BOOL: "bool"]
        for tensor in tensors {
            let entry = try #require(loaded[tensor.info.name]?.arrayValue, "\(tensor.info.name)")
            #expect(entry[0].stringValue == numpyNames[tensor.info.dtype])
            #expect(entry[1].arrayValue!.map { $0.intValue! } == tensor.info.shape)
            #expect(SafetensorsFixtures.hex(entry[2].stringValue!) == Array(tensor.bytes))
        }
    }

    @Test(.requiresPython("numpy", "safetensors", "ml_dtypes")) func referenceReadsLoftsShardedCheckpoint() throws {
        let scratch = ScratchDirectory()
        defer { scratch.remove() }
        let tensors = (0..<5).map { f32Tensor("layers.\($0).w", (0..<8).map { Float($0) * 0.5 }) }
        try ShardedSafetensorsWriter.write(directory: scratch.path, tensors: tensors.map(\.info), maxShardSize: 70) { info in
            tensors.first { $0.info.name == info.name }!
        }
        // The index read back by Python's json with transformers' formatting reproduces its text.
        let script = """
        import sys, json, os
        from safetensors.numpy import load_file
        d = sys.argv[1]
        text = open(os.path.join(d, "model.safetensors.index.json")).read()
        index = json.loads(text)
        assert text == json.dumps(index, indent=2, sort_keys=True) + "\\n"
        values = {}
        for name, shard in index["weight_map"].items():
            values[name] = load_file(os.path.join(d, shard))[name].tolist()
        print(json.dumps({"total": index["metadata"]["total_size"], "values": values}))
        """
        let output = try Python.output(script, [scratch.path])
        let result = try JSON.parse(output)
        #expect(result["total"]?.intValue == 5 * 32)
        for tensor in tensors {
            #expect(result["values"]?[tensor.info.name]?.arrayValue?.compactMap(\.doubleValue) == (0..<8).map { Double($0) * 0.5 })
        }
    }
}

extension Int64 {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
