// What can go wrong in a conversion that is not a reader's or a writer's own error. Each
// case names the file, the tensor when there is one, and what to do about it.

public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case badRename(rule: String)
    case badMetadata(entry: String)
    case renameCollision(path: String, first: String, second: String, name: String)
    case noTensorsSelected(path: String)
    case npyNeedsOneTensor(path: String, count: Int)
    case notAValueType(dtype: DType)
    case cannotConvert(path: String, tensor: String, from: DType, to: DType)
    case noNumPyDType(path: String, tensor: String, dtype: DType)
    case noSafetensorsDType(path: String, tensor: String, dtype: DType)
    case unsupportedOutput(path: String, reason: String)
    case verificationFailed(path: String, tensor: String?, reason: String)

    public var description: String {
        switch self {
        case let .badRename(rule):
            return "bad --rename \"\(rule)\": expected FROM=TO with a non-empty FROM (e.g. ^model.= to strip a prefix)"
        case let .badMetadata(entry):
            return "bad --metadata \"\(entry)\": expected KEY=VALUE with a non-empty KEY"
        case let .renameCollision(path, first, second, name):
            return "\(path): tensors \"\(first)\" and \"\(second)\" would both be renamed to \"\(name)\""
        case let .noTensorsSelected(path):
            return "\(path): no tensor matches the --include/--exclude patterns"
        case let .npyNeedsOneTensor(path, count):
            return "\(path): a .npy file holds exactly one tensor, but \(count) are selected (use .npz, or --include NAME)"
        case let .notAValueType(dtype):
            return "--dtype \(dtype.rawValue): loft converts values only among \(DType.valueTypes.map(\.rawValue).joined(separator: ", "))"
        case let .cannotConvert(path, tensor, from, to):
            return "\(path): tensor \"\(tensor)\": cannot convert \(from.rawValue) values to \(to.rawValue) (exclude it, or drop --dtype-all)"
        case let .noNumPyDType(path, tensor, dtype):
            return "\(path): tensor \"\(tensor)\": \(dtype.rawValue) has no NumPy dtype (write .safetensors, or --exclude it)"
        case let .noSafetensorsDType(path, tensor, dtype):
            return "\(path): tensor \"\(tensor)\": \(dtype.rawValue) is not a safetensors dtype (use --dtype c64, or --exclude it)"
        case let .unsupportedOutput(path, reason):
            return "\(path): \(reason)"
        case let .verificationFailed(path, tensor, reason):
            return "\(path): --verify: " + (tensor.map { "tensor \"\($0)\" " } ?? "") + reason + " (the output is left as written)"
        }
    }
}
