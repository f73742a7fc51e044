// Tensors passed through unchanged are copied by the kernel (copy_file_range) from the file
// they were mapped from. The written file must be the same bytes write() would produce, npz
// CRCs must still be right, and unaligned views (np.savez members, packed safetensors) must
// read the same values as an aligned copy.

import Foundation
import Testing
@testable import TensorIO

// Serialized: one test turns the kernel copy off process-wide.
@Suite(.serialized) struct FileCopyTests {
    /// A safetensors file with odd-sized tensors, so most of them start unaligned.
    static func oddCheckpoint(_ scratch: ScratchDirectory) throws -> String {
        var tensors: [TensorData] = []
        for (i, count) in [3, 1, 257, 4097, 70_000].enumerated() {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            tensors.append(tensorData(TensorInfo(name: "u8.\(i)", dtype: .U8, shape: [count]), bytes))
        }
        let floats = (0..<50_001).map { Float($0) * 0.25 - 7 }
        tensors.append(f32Tensor("f32", floats))
        let path = scratch.file("odd.safetensors")
        try SafetensorsWriter.write(to: path, tensors: tensors, metadata: [("format", "pt")])
        return path
    }

    static func withKernelCopy<R>(_ enabled: Bool, _ body: () throws -> R) rethrows -> R {
        AtomicOutputFile.kernelCopyEnabled = enabled
        defer { AtomicOutputFile.kernelCopyEnabled = true }
        return try body()
    }

    static func fileBytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func kernelCopyAndWriteProduceTheSameFiles() throws {
        let scratch = ScratchDirectory()
        let reader = try SafetensorsReader(path: try Self.oddCheckpoint(scratch))
        for kernel in [true, false] {
            try Self.withKernelCopy(kernel) {
                let suffix = kernel ? "kernel" : "write"
                try SafetensorsWriter.write(to: scratch.file("st-\(suffix).safetensors"), tensors: reader.tensors,
                                            metadata: reader.metadata) { try reader.data(for: $0.name) }
                try NpzWriter.write(to: scratch.file("npz-\(suffix).npz"), tensors: reader.tensors, compress: false) { try reader.data(for: $0.name) }
                try NpyWriter.write(to: scratch.file("npy-\(suffix).npy"), tensor: reader.data(for: "f32"))
            }
        }
        // The safetensors copy of a safetensors file written in reference order is the file itself.
        #expect(try Self.fileBytes(scratch.file("st-kernel.safetensors")) == Self.fileBytes(reader.path))
        #expect(try Self.fileBytes(scratch.file("st-write.safetensors")) == Self.fileBytes(reader.path))
        #expect(try Self.fileBytes(scratch.file("npz-kernel.npz")) == Self.fileBytes(scratch.file("npz-write.npz")))
        #expect(try Self.fileBytes(scratch.file("npy-kernel.npy")) == Self.fileBytes(scratch.file("npy-write.npy")))
        let npy = try NpyReader(path: scratch.file("npy-kernel.npy")).data(for: "npy-kernel")
        let expected = (0..<50_001).map { Float($0) * 0.25 - 7 }
        #expect(npy.withElements(as: Float.self) { Array($0) } == expected)
    }

    @Test func kernelCopyReportsWhatItCopied() throws {
        let scratch = ScratchDirectory()
        let source = try MappedFile(path: try Self.oddCheckpoint(scratch))
        let output = try AtomicOutputFile(path: scratch.file("part"))
        let copied = try output.copy(from: source.descriptor, offset: 8, count: 100)
        // Fewer only when the kernel cannot copy between these files; then nothing was written.
        #expect(copied == 100 || copied == 0)
        #expect(output.offset == copied)
        if copied < 100 {
            try output.write(UnsafeRawBufferPointer(rebasing: source.bytes[(8 + copied)..<108]))
        }
        try output.commit()
        #expect(try Self.fileBytes(scratch.file("part")) == Array(source.bytes[8..<108]))
    }

    @Test func viewOffsetsAreFoundOnlyInsideTheMapping() throws {
        let scratch = ScratchDirectory()
        let file = try MappedFile(path: try Self.oddCheckpoint(scratch))
        #expect(file.offset(of: UnsafeRawBufferPointer(rebasing: file.bytes[13..<40])) == 13)
        #expect(file.offset(of: file.bytes) == 0)
        let outside = [UInt8](repeating: 1, count: 16)
        outside.withUnsafeBytes { #expect(file.offset(of: $0) == nil) }
        // Starting inside but running past the end is not a view of the file.
        let past = UnsafeRawBufferPointer(start: file.bytes.baseAddress! + file.count - 4, count: 8)
        #expect(file.offset(of: past) == nil)
    }

    @Test(.requiresPython("numpy")) func npzCopiedByTheKernelPassesPythonsChecks() throws {
        let scratch = ScratchDirectory()
        let reader = try SafetensorsReader(path: try Self.oddCheckpoint(scratch))
        let path = scratch.file("out.npz")
        try NpzWriter.write(to: path, tensors: reader.tensors, compress: false) { try reader.data(for: $0.name) }
        // Our own reader checks every member's CRC-32 on read.
        let back = try NpzReader(path: path)
        for info in reader.tensors {
            #expect(try back.data(for: info.name).npyTestBytes == reader.data(for: info.name).npyTestBytes)
        }
        let output = try Python.output("""
            import sys, zipfile, numpy as np
            assert zipfile.ZipFile(sys.argv[1]).testzip() is None
            a = np.load(sys.argv[1])
            print(a["f32"].dtype, a["f32"][:3].tolist(), a["f32"][-1].item(), int(a["u8.4"].astype(np.int64).sum()))
            """, [path])
        let u8Sum = (0..<70_000).reduce(0) { $0 + Int(UInt8(truncatingIfNeeded: $1 &* 31 &+ 4)) }
        #expect(output == "float32 [-7.0, -6.75, -6.5] \(Float(50_000) * 0.25 - 7) \(u8Sum)\n")
    }

    @Test func unalignedNpzMembersAreViewsThatReadRight() throws {
        // np.savez puts member data wherever the local header ends: rarely on a 4-byte boundary.
        let reader = try NpzReader(path: NumPyFixtures.path("npz/savez.npz"))
        var sawUnaligned = false
        for info in reader.tensors {
            let data = try reader.data(for: info.name)
            // Byte-swapped and transposed members are copies by necessity.
            guard let width = info.dtype.byteWidth, width > 1, data.bytes.count > 0,
                  !["big_endian", "fortran"].contains(info.name) else { continue }
            #expect(data.owner is MappedFile, "\(info.name): stored little-endian members are views")
            if !data.isAligned(to: min(width, 8)) {
                sawUnaligned = true
                let copy = data.aligned()
                #expect(copy.isAligned(to: min(width, 8)))
                #expect(copy.npyTestBytes == data.npyTestBytes)
            }
        }
        #expect(sawUnaligned, "savez.npz should hold an unaligned member")
    }

    @Test func withElementsReadsUnalignedViews() throws {
        // Floats starting one byte into a buffer: a view the way a packed file gives them.
        let values: [Float] = [1.5, -2.25, 3.0e-8, .infinity, 65504]
        let raw = ByteBuffer(count: values.count * 4 + 1)
        values.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw.bytes[1...]).copyMemory(from: $0) }
        let view = TensorData(info: TensorInfo(name: "x", dtype: .F32, shape: [values.count]),
                              bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw.bytes)[1...]), owner: raw)
        #expect(!view.isAligned(to: 4))
        #expect(view.withElements(as: Float.self) { Array($0) } == values)
        #expect(view.aligned().withElements(as: Float.self) { Array($0) } == values)
        #expect(view.aligned().owner is ByteBuffer)
        let alignedView = TensorData(info: view.info, buffer: ByteBuffer(copying: view.bytes))
        #expect(alignedView.aligned().bytes.baseAddress == alignedView.bytes.baseAddress, "aligned data is not copied")
    }

    @Test func crcIsTheSameWithAndWithoutLibdeflate() throws {
        // The standard check value of CRC-32 (ISO-HDLC, as zip uses it).
        let check = Array("123456789".utf8)
        let big = (0..<(9 << 20) + 13).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        var results: [[UInt32]] = []
        for library in [true, false] {
            CRC32.libdeflateEnabled = library
            defer { CRC32.libdeflateEnabled = true }
            let small = check.withUnsafeBytes { CRC32.checksum($0) }
            // Split across the cores and continued from a previous value.
            let whole = big.withUnsafeBytes { CRC32.checksum($0, continuing: small) }
            results.append([small, whole])
        }
        #expect(results[0][0] == 0xCBF4_3926)
        #expect(results[0] == results[1])
        if !CRC32.usesLibdeflate { print("note: libdeflate not installed; only zlib's CRC-32 was checked") }
    }
}
