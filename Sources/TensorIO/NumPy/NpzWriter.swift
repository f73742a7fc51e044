// Writes tensors as an .npz archive that np.load reads: each tensor a member `name.npy`
// holding exactly what np.save would write (NpyWriter), stored like np.savez or deflated
// like np.savez_compressed. Streaming: `data` is asked for one tensor at a time and the
// tensor is written before the next is asked for, so peak memory is about one tensor.
// Zip64 is used where sizes, offsets or the entry count need it (ZipWriter.swift).

import CZlib

public enum NpzWriter {
    /// - Parameters:
    ///   - compress: deflate each member (np.savez_compressed) instead of storing it.
    ///   - level: zlib level when compressing (NumPy uses zlib's default, 6).
    public static func write(to path: String, tensors: [TensorInfo], compress: Bool, level: Int32 = Z_DEFAULT_COMPRESSION,
                             data: (TensorInfo) throws -> TensorData) throws {
        // Fail before writing anything on a tensor NumPy cannot represent.
        var headers: [[UInt8]] = []
        for info in tensors { headers.append(try NpyWriter.header(for: info, path: path)) }
        let archive = try ZipWriter(path: path)
        for (info, header) in zip(tensors, headers) {
            let name = info.name + ".npy"
            _ = try ZipDirectory.decodeName(Array(name.utf8), utf8: true, path: path, index: 0)
            let tensor = try data(info)
            guard tensor.info.dtype == info.dtype, tensor.bytes.count == info.byteCount else {
                throw FileError.writeFailed(path: path, reason: "tensor '\(info.name)': data is \(tensor.info.dtype.rawValue) \(tensor.info.shape), expected \(info.dtype.rawValue) \(info.shape)")
            }
            try header.withUnsafeBytes { header in
                try archive.addMember(name: name, parts: [header, tensor.bytes], owner: tensor.owner, deflate: compress, level: level)
            }
            withExtendedLifetime(tensor) {}
        }
        try archive.finish()
    }
}
