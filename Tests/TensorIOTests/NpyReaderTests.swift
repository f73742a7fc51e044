// Reading every .npy fixture numpy wrote: dtypes in both byte orders, Fortran order, the
// three format versions, 0-d and zero-size arrays, unusual header spellings. The expected
// values are numpy's own reading of each file (fixtures/numpy/expected).

import Testing
@testable import TensorIO

@Suite struct NpyReaderTests {
    @Test(arguments: NumPyFixtures.npyNames)
    func readsWhatNumpyReads(file: String) throws {
        let expected = NumPyFixtures.tensors("npy", file)[0]
        let reader = try NpyReader(path: NumPyFixtures.path("npy/\(file)"))
        #expect(reader.format == "npy")
        #expect(reader.tensors == [TensorInfo(name: expected.name, dtype: DType(rawValue: expected.dtype)!, shape: expected.shape)])
        let data = try reader.data(for: expected.name)
        #expect(data.npyTestBytes == expected.bytes)
    }

    @Test func tensorIsNamedAfterTheFileWithoutExtension() throws {
        let reader = try NpyReader(path: NumPyFixtures.path("npy/dtype_f4.npy"))
        #expect(reader.tensors.map(\.name) == ["dtype_f4"])
        #expect(throws: NpyError.unknownTensor(path: reader.path, tensor: "other")) { try reader.data(for: "other") }
    }

    @Test func littleEndianCOrderDataIsAViewIntoTheMapping() throws {
        let reader = try NpyReader(path: NumPyFixtures.path("npy/dtype_f8.npy"))
        let data = try reader.data(for: "dtype_f8")
        #expect(data.owner is MappedFile)
    }

    @Test func bigEndianDataIsSwappedIntoABuffer() throws {
        let reader = try NpyReader(path: NumPyFixtures.path("npy/dtype_f4_big_endian.npy"))
        #expect(reader.header.bigEndian)
        let swapped = try reader.data(for: "dtype_f4_big_endian")
        #expect(swapped.owner is ByteBuffer)
        let little = try NpyReader(path: NumPyFixtures.path("npy/dtype_f4.npy")).data(for: "dtype_f4")
        defer { withExtendedLifetime(little) {} }
        #expect(swapped.npyTestBytes == little.npyTestBytes)
    }

    @Test func fortranOrderIsTransposedToCOrder() throws {
        // np.asfortranarray of [[a b c] [d e f]] stores a d b e c f; loft returns a b c d e f.
        let reader = try NpyReader(path: NumPyFixtures.path("npy/fortran_f4_2x3.npy"))
        #expect(reader.header.fortranOrder)
        let data = try reader.data(for: "fortran_f4_2x3")
        let file = try MappedFile(path: reader.path)
        let stored = Array(file.bytes[reader.header.dataOffset...])
        let c = data.npyTestBytes
        for (i, j) in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)] {
            #expect(c[(i * 3 + j) * 4..<(i * 3 + j + 1) * 4] == stored[(j * 2 + i) * 4..<(j * 2 + i + 1) * 4])
        }
    }

    @Test func scalarHasOneElementAndZeroSizeHasNoBytes() throws {
        let scalar = try NpyReader(path: NumPyFixtures.path("npy/shape_scalar.npy"))
        #expect(scalar.tensors[0].shape == [] && scalar.tensors[0].elementCount == 1)
        #expect(try scalar.data(for: "shape_scalar").bytes.count == 4)
        let empty = try NpyReader(path: NumPyFixtures.path("npy/shape_100000x0.npy"))
        #expect(empty.tensors[0].shape == [100000, 0])
        #expect(try empty.data(for: "shape_100000x0").bytes.count == 0)
    }

    @Test func allThreeVersionsReadTheSameArray() throws {
        let values = try ["1", "2", "3"].map { v in
            let data = try NpyReader(path: NumPyFixtures.path("npy/version_\(v)_0.npy")).data(for: "version_\(v)_0")
            return data.npyTestBytes  // `bytes` lives as long as `data` (its owner keeps the mapping)
        }
        #expect(values[0] == values[1] && values[1] == values[2])
    }

    @Test func trailingBytesAreIgnoredAsNumpyDoes() throws {
        let reader = try NpyReader(path: NumPyFixtures.path("npy/trailing_bytes.npy"))
        #expect(try reader.data(for: "trailing_bytes").bytes.count == 12)
    }
}

@Suite struct NpyHeaderParsingTests {
    func parse(_ text: String, version: UInt8 = 1) throws -> NpyHeader {
        let body = Array(text.utf8)
        var bytes = NpyFormat.magic + [version, 0]
        let count = body.count
        bytes += version == 1 ? [UInt8(count & 0xFF), UInt8(count >> 8)] : [UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF), 0, 0]
        bytes += body
        return try bytes.withUnsafeBytes { try NpyFormat.parse($0, path: "t.npy", tensor: "t") }
    }

    @Test func acceptsWhatLiteralEvalAccepts() throws {
        let spellings = [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            "{\"shape\":(2,3),\"descr\":\"<f4\",\"fortran_order\":False}",
            "  {'descr' :'<f4' ,\n 'fortran_order':False,\t'shape':( 2 , 3 , ) ,}  \n",
            "{'descr': '<f4', # a comment\n 'fortran_order': False, 'shape': (+2, 3)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3_0)}",
        ]
        for text in spellings {
            let header = try parse(text)
            #expect(header.dtype == .F32 && !header.fortranOrder && header.shape.count == 2 && header.shape[0] == 2, "\(text)")
        }
        #expect(try parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}").shape == [3])
        #expect(try parse("{'descr': '<f4', 'fortran_order': False, 'shape': ()}").shape == [])
        #expect(try parse("{'descr': '>c16', 'fortran_order': True, 'shape': (1,)}").bigEndian)
        #expect(try parse("{'descr': '>u1', 'fortran_order': True, 'shape': (1,)}").bigEndian == false)
    }

    @Test func everyNumericDescrMapsToItsDType() throws {
        let table: [(String, DType)] = [("b1", .BOOL), ("i1", .I8), ("u1", .U8), ("i2", .I16), ("u2", .U16), ("i4", .I32),
                                        ("u4", .U32), ("i8", .I64), ("u8", .U64), ("f2", .F16), ("f4", .F32), ("f8", .F64),
                                        ("c8", .C64), ("c16", .C128)]
        for (code, dtype) in table {
            for order in ["<", ">", "=", "|", ""] {
                let header = try parse("{'descr': '\(order)\(code)', 'fortran_order': False, 'shape': (1,)}")
                #expect(header.dtype == dtype)
                #expect(header.bigEndian == (order == ">" && dtype.bitWidth > 8))
            }
        }
    }

    @Test func rejectsWhatLiteralEvalRejects() {
        for text in ["{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,),,}",
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", "{'descr': '<f4', 'fortran_order': False, 'shape': (0x2,)}"] {
            #expect(throws: NpyError.self, "\(text)") { try parse(text) }
            do { _ = try parse(text) } catch { #expect(errorCaseName(error) == "badHeader", "\(text): \(error)") }
        }
    }
}
