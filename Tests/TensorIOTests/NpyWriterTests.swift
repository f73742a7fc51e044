// NpyWriter output against np.save: the same bytes, file for file.

import Foundation
import Testing
@testable import TensorIO

@Suite struct NpyWriterTests {
    static var npSaveFiles: [String] { NumPyFixtures.manifest["np_save_identical"]!.arrayValue!.map { $0.stringValue! } }

    @Test(arguments: npSaveFiles)
    func byteIdenticalToNpSave(file: String) throws {
        let source = NumPyFixtures.path("npy/\(file)")
        let reader = try NpyReader(path: source)
        let scratch = ScratchDirectory()
        let output = scratch.file(file)
        try NpyWriter.write(to: output, tensor: try reader.data(for: reader.tensors[0].name))
        #expect(FileManager.default.contents(atPath: output) == FileManager.default.contents(atPath: source))
    }

    @Test func bigEndianAndFortranInputsAreWrittenAsNpSaveWritesTheLittleEndianCOrderArray() throws {
        // np.save(np.ascontiguousarray(a).astype('<f4')) == dtype_f4.npy for the big-endian copy.
        let reader = try NpyReader(path: NumPyFixtures.path("npy/dtype_f4_big_endian.npy"))
        let scratch = ScratchDirectory()
        try NpyWriter.write(to: scratch.file("x.npy"), tensor: try reader.data(for: "dtype_f4_big_endian"))
        #expect(FileManager.default.contents(atPath: scratch.file("x.npy")) == FileManager.default.contents(atPath: NumPyFixtures.path("npy/dtype_f4.npy")))
    }

    @Test func descrForEveryNumPyDTypeAndNoneForTheOthers() {
        let expected: [DType: String] = [.BOOL: "|b1", .I8: "|i1", .U8: "|u1", .I16: "<i2", .U16: "<u2", .I32: "<i4", .U32: "<u4",
                                         .I64: "<i8", .U64: "<u8", .F16: "<f2", .F32: "<f4", .F64: "<f8", .C64: "<c8", .C128: "<c16"]
        for dtype in DType.allCases {
            #expect(NpyWriter.numpyDescr(for: dtype) == expected[dtype], "\(dtype)")
        }
    }

    @Test func refusesDTypesNumPyCannotHoldAndLeavesNoFile() throws {
        let scratch = ScratchDirectory()
        let buffer = ByteBuffer(count: 4)
        let tensor = TensorData(info: TensorInfo(name: "w", dtype: .BF16, shape: [2]), buffer: buffer)
        let path = scratch.file("w.npy")
        #expect(throws: NpyError.noNumPyDType(path: path, tensor: "w", dtype: .BF16)) { try NpyWriter.write(to: path, tensor: tensor) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func spareHeaderSpaceFollowsTheFirstDimension() {
        // numpy: 21 - len(repr(shape[0])) spaces after the dict, then padding to 64 bytes.
        let header = NpyFormat.header(descr: "<f4", shape: [12345678901, 0])
        #expect(header.count % 64 == 0)
        let text = String(decoding: header[10...], as: UTF8.self)
        #expect(text.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (12345678901, 0), }" + String(repeating: " ", count: 10)))
        #expect(text.hasSuffix(" \n"))
    }

    @Test(.requiresPython("numpy"), arguments: [[3, 4], [Int](repeating: 1, count: 21_000), [Int](repeating: 1, count: 21_900)])
    func headerMatchesNumpysHeaderWriterIncludingVersion2(shape: [Int]) throws {
        // NumPy arrays have at most 64 axes, so np.save never needs version 2.0 for a plain
        // dtype; loft's shapes can be longer. NumPy's own header writer decides the reference.
        let expected = try Python.output("""
        import io, sys, warnings, numpy.lib._format_impl as f
        warnings.simplefilter('ignore')
        shape = tuple(int(x) for x in sys.argv[1].split(','))
        b = io.BytesIO(); f._write_array_header(b, {'descr': '<f4', 'fortran_order': False, 'shape': shape}, None)
        print(b.getvalue().hex())
        """, [shape.map(String.init).joined(separator: ",")])
        let header = NpyFormat.header(descr: "<f4", shape: shape)
        #expect(header.map { String(format: "%02x", $0) }.joined() == expected.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(header[6] == (header.count > 65_535 + 10 ? 2 : 1))
    }

    @Test(.requiresPython("numpy")) func roundTripThroughNumpy() throws {
        let scratch = ScratchDirectory()
        for file in ["dtype_c16_big_endian.npy", "fortran_u1_3x4x5.npy", "shape_scalar.npy", "dtype_b1.npy"] {
            let reader = try NpyReader(path: NumPyFixtures.path("npy/\(file)"))
            let output = scratch.file(file)
            try NpyWriter.write(to: output, tensor: try reader.data(for: reader.tensors[0].name))
            let verdict = try Python.output("""
            import sys, numpy as np
            a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
            print(a.dtype == b.dtype.newbyteorder('<') and a.shape == b.shape and a.tobytes() == np.ascontiguousarray(b).astype(a.dtype).tobytes())
            """, [output, reader.path])
            #expect(verdict.trimmingCharacters(in: .whitespacesAndNewlines) == "True", "\(file)")
        }
    }
}
