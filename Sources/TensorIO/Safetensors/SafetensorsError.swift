// What can be wrong with a safetensors file, a sharded checkpoint, or a request to write one.
//
// The reader cases follow the reference's checks in its order (safetensors 0.8,
// `SafeTensorError`); `referenceName` gives the reference's name for each, which the
// malformed-input corpus compares against what the Python package reports for the same file.

public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    // Reader, in the order the reference checks.
    case headerTooSmall(path: String, fileSize: Int)
    case headerTooLarge(path: String, declared: UInt64)
    case invalidHeaderLength(path: String, declared: UInt64, fileSize: Int)
    case invalidHeader(path: String, byteOffset: Int)
    case invalidHeaderDeserialization(path: String, tensor: String?, reason: String)
    /// Stricter than the reference (which keeps the last): the format's README forbids it.
    case duplicateKey(path: String, key: String)
    case invalidOffset(path: String, tensor: String, reason: String)
    case validationOverflow(path: String, tensor: String)
    case misalignedSlice(path: String, tensor: String, bits: Int)
    case tensorInvalidInfo(path: String, tensor: String, expectedBytes: Int, declaredBytes: UInt64)
    case metadataIncompleteBuffer(path: String, expectedFileSize: UInt64, fileSize: Int)
    case tensorNotFound(path: String, tensor: String)

    // Writer.
    case reservedName(path: String, tensor: String)
    case unsupportedDType(path: String, tensor: String, dtype: DType)
    case duplicateTensor(path: String, tensor: String)
    case dataMismatch(path: String, tensor: String, reason: String)

    // Sharded checkpoints.
    case invalidIndex(path: String, reason: String)
    case missingShard(path: String, tensor: String, shard: String)
    case tensorMissingFromShard(path: String, tensor: String, shard: String)
    case invalidShardSize(text: String, reason: String)

    /// The reference's error name for the same problem ("DuplicateKey" and the writer and
    /// index cases have none there).
    public var referenceName: String {
        switch self {
        case .headerTooSmall: return "HeaderTooSmall"
        case .headerTooLarge: return "HeaderTooLarge"
        case .invalidHeaderLength: return "InvalidHeaderLength"
        case .invalidHeader: return "InvalidHeader"
        case .invalidHeaderDeserialization: return "InvalidHeaderDeserialization"
        case .duplicateKey: return "DuplicateKey"
        case .invalidOffset: return "InvalidOffset"
        case .validationOverflow: return "ValidationOverflow"
        case .misalignedSlice: return "MisalignedSlice"
        case .tensorInvalidInfo: return "TensorInvalidInfo"
        case .metadataIncompleteBuffer: return "MetadataIncompleteBuffer"
        case .tensorNotFound: return "TensorNotFound"
        case .reservedName: return "ReservedName"
        case .unsupportedDType: return "UnsupportedDType"
        case .duplicateTensor: return "DuplicateTensor"
        case .dataMismatch: return "DataMismatch"
        case .invalidIndex: return "InvalidIndex"
        case .missingShard: return "MissingShard"
        case .tensorMissingFromShard: return "TensorMissingFromShard"
        case .invalidShardSize: return "InvalidShardSize"
        }
    }

    public var description: String {
        switch self {
        case let .headerTooSmall(path, size):
            return "\(path): not a safetensors file: \(size) bytes, shorter than the 8-byte header length"
        case let .headerTooLarge(path, declared):
            return "\(path): header length \(declared) exceeds the 100,000,000-byte limit"
        case let .invalidHeaderLength(path, declared, size):
            return "\(path): header length \(declared) runs past the end of the \(size)-byte file"
        case let .invalidHeader(path, offset):
            return "\(path): header is not valid UTF-8 (at header byte \(offset))"
        case let .invalidHeaderDeserialization(path, tensor, reason):
            if let tensor { return "\(path): tensor \"\(tensor)\": invalid header entry: \(reason)" }
            return "\(path): invalid header: \(reason)"
        case let .duplicateKey(path, key):
            return "\(path): header names \"\(key)\" twice (the format forbids duplicate keys)"
        case let .invalidOffset(path, tensor, reason):
            return "\(path): tensor \"\(tensor)\": invalid data_offsets: \(reason)"
        case let .validationOverflow(path, tensor):
            return "\(path): tensor \"\(tensor)\": shape x dtype size overflows"
        case let .misalignedSlice(path, tensor, bits):
            return "\(path): tensor \"\(tensor)\": \(bits) bits of sub-byte data is not a whole number of bytes"
        case let .tensorInvalidInfo(path, tensor, expected, declared):
            return "\(path): tensor \"\(tensor)\": data_offsets span \(declared) bytes but dtype and shape need \(expected)"
        case let .metadataIncompleteBuffer(path, expected, size):
            return "\(path): header and tensors account for \(expected) bytes but the file has \(size) (truncated or trailing bytes)"
        case let .tensorNotFound(path, tensor):
            return "\(path): no tensor named \"\(tensor)\""
        case let .reservedName(path, tensor):
            return "\(path): cannot write a tensor named \"\(tensor)\" (reserved for the metadata)"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor \"\(tensor)\": \(dtype) is not a safetensors dtype (convert it first, e.g. to C64)"
        case let .duplicateTensor(path, tensor):
            return "\(path): tensor \"\(tensor)\" given twice"
        case let .dataMismatch(path, tensor, reason):
            return "\(path): tensor \"\(tensor)\": \(reason)"
        case let .invalidIndex(path, reason):
            return "\(path): invalid sharded checkpoint index: \(reason)"
        case let .missingShard(path, tensor, shard):
            return "\(path): tensor \"\(tensor)\" is mapped to shard \(shard), which cannot be opened"
        case let .tensorMissingFromShard(path, tensor, shard):
            return "\(path): tensor \"\(tensor)\" is mapped to shard \(shard), which does not contain it"
        case let .invalidShardSize(text, reason):
            return "invalid shard size \"\(text)\": \(reason)"
        }
    }
}
