// Writes one tensor as an .npy file byte-identical to `np.save` of the same array: the
// header NumPy writes (NpyHeader.swift), then the little-endian C-order data. Through a
// temporary file, so the target appears only when complete.
//
// BF16, the F8, F6 and F4 types have no NumPy dtype (ml_dtypes saves them as raw void bytes
// that load back without a type): the writer refuses them; `loft convert` widens them to
// F32 first.

public enum NpyWriter {
    /// The descr np.save writes for a dtype, or nil when NumPy has no such dtype.
    public static func numpyDescr(for dtype: DType) -> String? { NpyFormat.descr(for: dtype) }

    /// The bytes np.save writes before the data of an array with this dtype and shape.
    public static func header(for info: TensorInfo, path: String) throws -> [UInt8] {
        guard let descr = numpyDescr(for: info.dtype) else {
            throw NpyError.noNumPyDType(path: path, tensor: info.name, dtype: info.dtype)
        }
        return NpyFormat.header(descr: descr, shape: info.shape)
    }

    public static func write(to path: String, tensor: TensorData) throws {
        let header = try header(for: tensor.info, path: path)
        let file = try AtomicOutputFile(path: path)
        try file.write(header)
        try file.write(tensor.bytes, from: tensor.owner)
        try file.commit()
    }
}
