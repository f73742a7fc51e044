// Reading .npz archives made by np.savez, np.savez_compressed and CPython's zipfile (data
// descriptors, Zip64 records, members without `.npy`, an archive comment). Expected values
// are numpy's reading of each archive.

import Testing
@testable import TensorIO

@Suite struct NpzReaderTests {
    @Test(arguments: NumPyFixtures.npzNames)
    func readsWhatNumpyReads(file: String) throws {
        let expected = NumPyFixtures.tensors("npz", file)
        let reader = try NpzReader(path: NumPyFixtures.path("npz/\(file)"))
        #expect(reader.format == "npz")
        #expect(reader.tensors.map(\.name) == expected.map(\.name))
        for tensor in expected {
            #expect(reader.info(for: tensor.name) == TensorInfo(name: tensor.name, dtype: DType(rawValue: tensor.dtype)!, shape: tensor.shape))
            #expect(try reader.data(for: tensor.name).npyTestBytes == tensor.bytes, "\(tensor)")
        }
    }

    @Test func storedAndCompressedArchivesHoldTheSameTensors() throws {
        let stored = try NpzReader(path: NumPyFixtures.path("npz/savez.npz"))
        let deflated = try NpzReader(path: NumPyFixtures.path("npz/savez_compressed.npz"))
        #expect(stored.tensors == deflated.tensors)
        for info in stored.tensors {
            #expect(try stored.data(for: info.name).npyTestBytes == deflated.data(for: info.name).npyTestBytes)
        }
        #expect(try deflated.data(for: "weight").owner is ByteBuffer)
    }

    @Test func memberWithoutNpySuffixKeepsItsName() throws {
        let reader = try NpzReader(path: NumPyFixtures.path("npz/member_without_npy_suffix_and_comment.npz"))
        #expect(reader.tensors.map(\.name) == ["plain", "with_suffix"])
    }

    @Test func unicodeNamesAreDecoded() throws {
        let reader = try NpzReader(path: NumPyFixtures.path("npz/unicode_names.npz"))
        #expect(Set(reader.tensors.map(\.name)) == ["gewicht_ä", "πάρα", "模型/层.0"])
    }

    @Test func storedLittleEndianMemberIsAViewWhenAligned() throws {
        // loft's own writer aligns stored data to 64 bytes; np.savez does not align.
        let scratch = ScratchDirectory()
        let source = try NpyReader(path: NumPyFixtures.path("npy/dtype_f8.npy"))
        let path = scratch.file("a.npz")
        try NpzWriter.write(to: path, tensors: [source.tensors[0].renamed("x")], compress: false) { _ in
            let data = try source.data(for: "dtype_f8")
            return TensorData(info: data.info.renamed("x"), bytes: data.bytes, owner: data.owner)
        }
        let data = try NpzReader(path: path).data(for: "x")
        #expect(data.owner is MappedFile)
        #expect(data.npyTestBytes == (try source.data(for: "dtype_f8").npyTestBytes))
    }

    @Test func unknownTensorIsAnError() throws {
        let reader = try NpzReader(path: NumPyFixtures.path("npz/savez.npz"))
        #expect(throws: NpyError.unknownTensor(path: reader.path, tensor: "nope")) { try reader.data(for: "nope") }
    }
}
