// Quantizing whole tensors to MLX's affine form (the writer side of MLXAffine), and which
// tensors mlx-lm quantizes.

import Compute

extension MLXAffine {
    /// Whether mlx-lm's quantize_model would quantize this tensor: the weight of a Linear or
    /// Embedding layer (a floating-point `.weight` of rank 2) whose rows divide into groups.
    /// Norms (rank 1), convolutions (rank 3 and more) and biases stay as they are.
    public func quantizes(_ info: TensorInfo) -> Bool {
        info.name.hasSuffix(".weight") && info.shape.count == 2 && MLXAffine.floatTypes.contains(info.dtype)
            && info.shape[1] > 0 && info.shape[1] % groupSize == 0 && packedWords(rowLength: info.shape[1]) != nil
    }

    /// The three tensors mlx-lm stores for `P.weight`: `P.weight` (U32 packed rows),
    /// `P.scales` and `P.biases` (the weight's float type, one value per group).
    public func quantizedInfos(_ info: TensorInfo) -> (weight: TensorInfo, scales: TensorInfo, biases: TensorInfo) {
        let module = String(info.name.dropLast(".weight".count))
        let rows = Array(info.shape.dropLast())
        let columns = info.shape.last ?? 0
        return (TensorInfo(name: info.name, dtype: .U32, shape: rows + [packedWords(rowLength: columns)!]),
                TensorInfo(name: module + ".scales", dtype: info.dtype, shape: rows + [columns / groupSize]),
                TensorInfo(name: module + ".biases", dtype: info.dtype, shape: rows + [columns / groupSize]))
    }

    /// mx.quantize(weight, group_size, bits): the packed weight, scales and biases.
    public func quantize(_ data: TensorData) throws -> (weight: TensorData, scales: TensorData, biases: TensorData) {
        let result = try quantize(data, codes: true)
        return (result.weight!, result.scales, result.biases)
    }

    /// The scales and biases of mx.quantize without the codes (a pass over the values
    /// without the per-value division, for a writer that wants them first).
    public func scalesAndBiases(_ data: TensorData) throws -> (scales: TensorData, biases: TensorData) {
        let result = try quantize(data, codes: false)
        return (result.scales, result.biases)
    }

    func quantize(_ data: TensorData, codes: Bool) throws -> (weight: TensorData?, scales: TensorData, biases: TensorData) {
        let infos = quantizedInfos(data.info)
        let columns = data.info.shape.last ?? 0
        let rows = columns == 0 ? 0 : data.info.elementCount / columns
        let groups = columns / groupSize
        let rowBytes = infos.weight.shape.last! * 4
        let packed = codes ? ByteBuffer(count: infos.weight.byteCount) : nil
        let scales = ByteBuffer(count: rows * groups * 4)
        let biases = ByteBuffer(count: rows * groups * 4)
        let source = try DTypeConversion.convert(data, to: .F32)
        let scaleValues = scales.bytes.bindMemory(to: Float.self)
        let biasValues = biases.bytes.bindMemory(to: Float.self)
        source.withElements(as: Float.self) { values in
            Parallel.forEachRange(count: rows, minimumChunk: max(1, 65536 / max(columns, 1))) { range in
                for row in range {
                    quantizeRow(UnsafeBufferPointer(rebasing: values[(row * columns)..<((row + 1) * columns)]),
                                packed: packed.map { UnsafeMutableRawBufferPointer(rebasing: $0.bytes[(row * rowBytes)..<((row + 1) * rowBytes)]) },
                                scales: UnsafeMutableBufferPointer(rebasing: scaleValues[(row * groups)..<((row + 1) * groups)]),
                                biases: UnsafeMutableBufferPointer(rebasing: biasValues[(row * groups)..<((row + 1) * groups)]))
                }
            }
        }
        func narrowed(_ buffer: ByteBuffer, _ info: TensorInfo) throws -> TensorData {
            let f32 = TensorData(info: TensorInfo(name: info.name, dtype: .F32, shape: info.shape), buffer: buffer)
            return info.dtype == .F32 ? f32 : try DTypeConversion.convert(f32, to: info.dtype)
        }
        return (packed.map { TensorData(info: infos.weight, buffer: $0) }, try narrowed(scales, infos.scales), try narrowed(biases, infos.biases))
    }
}
