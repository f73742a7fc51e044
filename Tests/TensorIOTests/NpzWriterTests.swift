// NpzWriter: archives read back by loft, by numpy (np.load) and by CPython's zipfile
// (testzip checks every CRC); stored and deflated; Zip64 past 65535 members.

import Foundation
import Testing
@testable import TensorIO

@Suite struct NpzWriterTests {
    /// Every tensor of savez.npz (all dtypes and layouts numpy offers there).
    func savezTensors() throws -> (NpzReader, [TensorInfo]) {
        let reader = try NpzReader(path: NumPyFixtures.path("npz/savez.npz"))
        return (reader, reader.tensors)
    }

    @Test(arguments: [false, true])
    func roundTripThroughLoft(compress: Bool) throws {
        let (source, tensors) = try savezTensors()
        let scratch = ScratchDirectory()
        let path = scratch.file("out.npz")
        try NpzWriter.write(to: path, tensors: tensors, compress: compress) { try source.data(for: $0.name) }
        let back = try NpzReader(path: path)
        #expect(back.tensors == tensors)
        for info in tensors { #expect(try back.data(for: info.name).npyTestBytes == source.data(for: info.name).npyTestBytes) }
    }

    @Test(.requiresPython("numpy"), arguments: [false, true])
    func numpyAndZipfileReadWhatLoftWrites(compress: Bool) throws {
        let (source, tensors) = try savezTensors()
        let scratch = ScratchDirectory()
        let path = scratch.file("out.npz")
        try NpzWriter.write(to: path, tensors: tensors, compress: compress) { try source.data(for: $0.name) }
        let verdict = try Python.output("""
        import sys, zipfile, numpy as np
        assert zipfile.ZipFile(sys.argv[1]).testzip() is None
        ours, theirs = np.load(sys.argv[1]), np.load(sys.argv[2])
        assert ours.files == theirs.files, (ours.files, theirs.files)
        for k in theirs.files:
            a, b = ours[k], theirs[k]
            assert a.shape == b.shape and a.dtype == b.dtype.newbyteorder('<'), k
            assert a.tobytes() == np.ascontiguousarray(b).astype(a.dtype).tobytes(), k
        method = {i.compress_type for i in zipfile.ZipFile(sys.argv[1]).infolist()}
        print(sorted(method))
        """, [path, source.path])
        #expect(verdict.trimmingCharacters(in: .whitespacesAndNewlines) == (compress ? "[8]" : "[0]"))
    }

    @Test func memberBytesAreExactlyWhatNpSaveWrites() throws {
        // Stored member = np.save output, so the member's bytes equal the .npy fixture.
        let reader = try NpyReader(path: NumPyFixtures.path("npy/dtype_i8.npy"))
        let scratch = ScratchDirectory()
        let path = scratch.file("a.npz")
        try NpzWriter.write(to: path, tensors: reader.tensors, compress: false) { try reader.data(for: $0.name) }
        let archive = try MappedFile(path: path)
        let entry = try ZipDirectory.read(archive.bytes, path: path)[0]
        #expect(entry.name == "dtype_i8.npy")
        #expect(entry.dataOffset % 64 == 0)
        let member = Array(archive.bytes[entry.dataOffset..<(entry.dataOffset + entry.compressedSize)])
        #expect(member == [UInt8](FileManager.default.contents(atPath: reader.path)!))
    }

    @Test func largeMemberDeflatedInParallelBlocksIsOneValidStream() throws {
        // 10 MiB: three 4 MiB deflate blocks joined by sync flushes, CRC split over both cores.
        let count = 10 << 20
        let buffer = ByteBuffer(count: count)
        for i in 0..<count { buffer.bytes[i] = UInt8(truncatingIfNeeded: (i / 7) ^ (i >> 13)) }
        let info = TensorInfo(name: "big", dtype: .U8, shape: [count])
        let scratch = ScratchDirectory()
        let path = scratch.file("big.npz")
        try NpzWriter.write(to: path, tensors: [info], compress: true) { _ in TensorData(info: info, buffer: buffer) }
        #expect(try NpzReader(path: path).data(for: "big").npyTestBytes == Array(buffer.bytes))
        if Python.has("numpy") {
            let out = try Python.output("""
            import sys, zipfile, zlib, numpy as np
            assert zipfile.ZipFile(sys.argv[1]).testzip() is None
            a = np.load(sys.argv[1])['big']
            i = np.arange(a.size)
            print(bool((a == ((i // 7) ^ (i >> 13)).astype(np.uint8)).all()))
            """, [path])
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "True")
        }
    }

    @Test func zip64RecordsPast65535Members() throws {
        let count = 65_600
        let infos = (0..<count).map { TensorInfo(name: "t\($0)", dtype: .U8, shape: [1]) }
        let buffer = ByteBuffer(count: 1)
        let scratch = ScratchDirectory()
        let path = scratch.file("many.npz")
        try NpzWriter.write(to: path, tensors: infos, compress: false) { info in
            buffer.bytes[0] = UInt8(truncatingIfNeeded: Int(info.name.dropFirst())!)
            return TensorData(info: info, buffer: buffer)
        }
        let archive = try MappedFile(path: path)
        #expect(archive.bytes.count > 22 + 20 + 56)
        let locator = archive.bytes.count - 22 - 20
        #expect(Array(archive.bytes[locator..<(locator + 4)]) == [0x50, 0x4B, 0x06, 0x07])
        let reader = try NpzReader(path: path)
        #expect(reader.tensors.count == count)
        #expect(try reader.data(for: "t65599").npyTestBytes == [UInt8(65599 & 0xFF)])
        if Python.has("numpy") {
            let out = try Python.output("""
            import sys, numpy as np
            f = np.load(sys.argv[1]); print(len(f.files), int(f['t65599'][0]))
            """, [path])
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "\(count) \(65599 & 0xFF)")
        }
    }

    @Test func failureLeavesNothingAtThePath() throws {
        struct Boom: Error {}
        let scratch = ScratchDirectory()
        let path = scratch.file("x.npz")
        let infos = [TensorInfo(name: "a", dtype: .F32, shape: [1]), TensorInfo(name: "b", dtype: .F32, shape: [1])]
        #expect(throws: Boom.self) {
            try NpzWriter.write(to: path, tensors: infos, compress: true) { info in
                if info.name == "b" { throw Boom() }
                return TensorData(info: info, buffer: ByteBuffer(count: 4))
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func refusesBF16AndUnsafeNames() throws {
        let scratch = ScratchDirectory()
        let path = scratch.file("x.npz")
        #expect(throws: NpyError.noNumPyDType(path: path, tensor: "w", dtype: .BF16)) {
            try NpzWriter.write(to: path, tensors: [TensorInfo(name: "w", dtype: .BF16, shape: [1])], compress: false) { _ in fatalError() }
        }
        #expect(throws: ZipError.unsafeName(path: path, member: "../w.npy")) {
            try NpzWriter.write(to: path, tensors: [TensorInfo(name: "../w", dtype: .U8, shape: [1])], compress: false) {
                TensorData(info: $0, buffer: ByteBuffer(count: 1))
            }
        }
    }
}
