// Everything that can be wrong with .npy bytes, whether they come from a file or from an
// .npz member. Each case names the file and the tensor (for an .npy file: its base name).

public enum NpyError: Error, CustomStringConvertible, Equatable {
    case truncated(path: String, tensor: String, what: String)
    case badMagic(path: String, tensor: String)
    case unsupportedVersion(path: String, tensor: String, major: Int, minor: Int)
    case headerLengthPastEnd(path: String, tensor: String, headerEnd: Int, available: Int)
    case headerTooLarge(path: String, tensor: String, length: Int)
    case headerNotText(path: String, tensor: String, encoding: String)
    case badHeader(path: String, tensor: String, reason: String)
    case badShape(path: String, tensor: String, reason: String)
    case sizeOverflow(path: String, tensor: String)
    case objectDType(path: String, tensor: String, descr: String)
    case stringDType(path: String, tensor: String, descr: String)
    case datetimeDType(path: String, tensor: String, descr: String)
    case structuredDType(path: String, tensor: String)
    case voidDType(path: String, tensor: String, descr: String)
    case unsupportedDType(path: String, tensor: String, descr: String)
    case shortData(path: String, tensor: String, expected: Int, available: Int)
    case unknownTensor(path: String, tensor: String)
    case noNumPyDType(path: String, tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case let .truncated(path, tensor, what):
            return "\(path): tensor '\(tensor)': file ends inside the \(what)"
        case let .badMagic(path, tensor):
            return "\(path): tensor '\(tensor)': not an .npy array (the magic \\x93NUMPY is missing)"
        case let .unsupportedVersion(path, tensor, major, minor):
            return "\(path): tensor '\(tensor)': unsupported .npy format version \(major).\(minor) (known: 1.0, 2.0, 3.0)"
        case let .headerLengthPastEnd(path, tensor, headerEnd, available):
            return "\(path): tensor '\(tensor)': the header would end at byte \(headerEnd) but only \(available) bytes exist"
        case let .headerTooLarge(path, tensor, length):
            return "\(path): tensor '\(tensor)': header length \(length) is over the limit of \(NpyFormat.maxHeaderLength) bytes"
        case let .headerNotText(path, tensor, encoding):
            return "\(path): tensor '\(tensor)': header is not valid \(encoding) text"
        case let .badHeader(path, tensor, reason):
            return "\(path): tensor '\(tensor)': bad header: \(reason)"
        case let .badShape(path, tensor, reason):
            return "\(path): tensor '\(tensor)': bad shape: \(reason)"
        case let .sizeOverflow(path, tensor):
            return "\(path): tensor '\(tensor)': the shape's element or byte count overflows 64 bits"
        case let .objectDType(path, tensor, descr):
            return "\(path): tensor '\(tensor)': dtype '\(descr)' holds Python objects (a pickle); refused, loft never unpickles"
        case let .stringDType(path, tensor, descr):
            return "\(path): tensor '\(tensor)': string dtype '\(descr)' is not a numeric tensor; refused"
        case let .datetimeDType(path, tensor, descr):
            return "\(path): tensor '\(tensor)': datetime/timedelta dtype '\(descr)' is not supported"
        case let .structuredDType(path, tensor):
            return "\(path): tensor '\(tensor)': structured (record) dtypes are not supported"
        case let .voidDType(path, tensor, descr):
            return "\(path): tensor '\(tensor)': dtype '\(descr)' is raw void bytes that carry no element type (possibly bfloat16 or float8 saved through ml_dtypes); convert it to float32 in Python first"
        case let .unsupportedDType(path, tensor, descr):
            return "\(path): tensor '\(tensor)': unsupported dtype descr \(descr)"
        case let .shortData(path, tensor, expected, available):
            return "\(path): tensor '\(tensor)': data is short: the header declares \(expected) bytes, \(available) are present"
        case let .unknownTensor(path, tensor):
            return "\(path): no tensor named '\(tensor)'"
        case let .noNumPyDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)': \(dtype.rawValue) has no NumPy dtype; convert it first (float32 widens bf16/f8 losslessly)"
        }
    }
}
