// Everything the pickle reader and the PyTorch containers refuse. Each message names the
// file and, where there is one, the opcode and its offset or the global it tried to load,
// so a refused checkpoint says exactly what in it was not plain data.

public enum PickleError: Error, CustomStringConvertible, Equatable {
    /// An opcode loft does not run (code execution, out-of-band buffers, extensions, unknown).
    case forbiddenOpcode(path: String, offset: Int, opcode: String)
    /// A GLOBAL / STACK_GLOBAL outside the allow-list: nothing is ever imported.
    case forbiddenGlobal(path: String, offset: Int, name: String)
    /// A call (REDUCE, NEWOBJ, BUILD) of something that is allowed to be named but not called
    /// that way, or with arguments of the wrong shape.
    case forbiddenCall(path: String, offset: Int, callee: String, reason: String)
    case persistentID(path: String, offset: Int, reason: String)
    case malformed(path: String, offset: Int, reason: String)
    case truncated(path: String, offset: Int, opcode: String)
    case limitExceeded(path: String, offset: Int, what: String, limit: Int)

    public var description: String {
        switch self {
        case let .forbiddenOpcode(path, offset, opcode):
            return "\(path): pickle opcode \(opcode) at byte \(offset) is not allowed (loft never executes pickled code)"
        case let .forbiddenGlobal(path, offset, name):
            return "\(path): pickle loads global '\(name)' at byte \(offset), which is not on the allow-list of tensor types (loft never imports or runs it)"
        case let .forbiddenCall(path, offset, callee, reason):
            return "\(path): pickle calls '\(callee)' at byte \(offset): \(reason)"
        case let .persistentID(path, offset, reason):
            return "\(path): persistent id at byte \(offset): \(reason)"
        case let .malformed(path, offset, reason):
            return "\(path): malformed pickle at byte \(offset): \(reason)"
        case let .truncated(path, offset, opcode):
            return "\(path): pickle truncated at byte \(offset) (inside \(opcode))"
        case let .limitExceeded(path, offset, what, limit):
            return "\(path): pickle exceeds loft's limit on \(what) (\(limit)) at byte \(offset)"
        }
    }
}

/// What is wrong with a PyTorch checkpoint beyond its pickle: the container, the storages,
/// the tensors' geometry, the state dict's place.
public enum PyTorchError: Error, CustomStringConvertible, Equatable {
    case container(path: String, reason: String)
    case storage(path: String, key: String, reason: String)
    case tensor(path: String, tensor: String, reason: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case noStateDict(path: String, reason: String)
    case badKey(path: String, key: String, reason: String)
    case unknownTensor(path: String, tensor: String)

    public var description: String {
        switch self {
        case let .container(path, reason): return "\(path): \(reason)"
        case let .storage(path, key, reason): return "\(path): storage '\(key)': \(reason)"
        case let .tensor(path, tensor, reason): return "\(path): tensor '\(tensor)': \(reason)"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype), which loft has no type for"
        case let .noStateDict(path, reason): return "\(path): no state dict: \(reason)"
        case let .badKey(path, key, reason): return "\(path): --key '\(key)': \(reason)"
        case let .unknownTensor(path, tensor): return "\(path): no tensor named '\(tensor)'"
        }
    }
}
