// What a tensor is, apart from its bytes: name, element type and shape.

public struct TensorInfo: Sendable, Hashable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements (1 for a scalar, shape `[]`). Callers that build a TensorInfo from
    /// a file must have checked the product for overflow first (`checkedElementCount`).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Bytes of data in C order. Sub-byte types are packed (elements x bits / 8).
    public var byteCount: Int { elementCount * dtype.bitWidth / 8 }

    public func renamed(_ newName: String) -> TensorInfo {
        TensorInfo(name: newName, dtype: dtype, shape: shape)
    }
}

extension TensorInfo {
    /// Element count and byte count of a shape read from a file, or nil on overflow (a
    /// hostile header must not be able to wrap a size into something small).
    public static func checkedSizes(shape: [Int], dtype: DType) -> (elements: Int, bytes: Int)? {
        var elements = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            elements = product
        }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: dtype.bitWidth)
        if overflow { return nil }
        return (elements, bits / 8)
    }
}
