// The torch types a checkpoint's pickle names: dtypes (`torch.float16`), storage classes
// (`torch.HalfStorage`, `torch.storage.UntypedStorage`), and the records the allow-listed
// rebuild functions produce (a storage reference, a tensor's geometry over a storage).

/// A torch dtype by its Python name, with loft's DType when loft has one.
struct TorchDType: Hashable {
    let name: String

    /// torch name -> loft DType. Names torch has that are missing here (complex32,
    /// float4_e2m1fn_x2, the quantized and bit types) have no loft type: refused per tensor.
    static let known: [String: DType] = [
        "float64": .F64, "double": .F64, "float32": .F32, "float": .F32, "float16": .F16, "half": .F16,
        "bfloat16": .BF16, "float8_e4m3fn": .F8_E4M3, "float8_e5m2": .F8_E5M2,
        "float8_e4m3fnuz": .F8_E4M3FNUZ, "float8_e5m2fnuz": .F8_E5M2FNUZ, "float8_e8m0fnu": .F8_E8M0,
        "int8": .I8, "int16": .I16, "short": .I16, "int32": .I32, "int": .I32, "int64": .I64, "long": .I64,
        "uint8": .U8, "uint16": .U16, "uint32": .U32, "uint64": .U64, "bool": .BOOL,
        "complex64": .C64, "cfloat": .C64, "complex128": .C128, "cdouble": .C128,
    ]

    /// Dtypes torch has that loft names (so `torch.complex32` is a clear refusal per tensor,
    /// not an unknown global).
    static let unsupported: Set<String> = [
        "complex32", "chalf", "float4_e2m1fn_x2", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
        "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16", "int1", "int2", "int3", "int4", "int5", "int6", "int7",
        "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
    ]

    var dtype: DType? { TorchDType.known[name] }
}

/// A storage class as the persistent id names it.
enum TorchStorageType: Equatable {
    /// A typed storage (`torch.FloatStorage`): its numel counts elements of this dtype.
    case typed(TorchDType)
    /// `torch.storage.UntypedStorage`: numel counts bytes; the tensor says its dtype.
    case untyped

    static let typedClasses: [String: String] = [
        "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
        "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
        "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
        "QInt8Storage": "qint8", "QUInt8Storage": "quint8", "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2",
        "QUInt2x4Storage": "quint2x4",
    ]

    /// The storage type a global names: `torch.FloatStorage` (also under `torch.cuda`, as
    /// GPU checkpoints name it; loft reads the bytes either way) or UntypedStorage.
    init?(module: String, name: String) {
        if (module == "torch" || module == "torch.storage") && name == "UntypedStorage" { self = .untyped; return }
        guard module == "torch" || module == "torch.cuda", let dtype = TorchStorageType.typedClasses[name] else { return nil }
        self = .typed(TorchDType(name: dtype))
    }

    var name: String {
        switch self {
        case let .typed(dtype): return TorchStorageType.typedClasses.first { $0.value == dtype.name }.map { "torch.\($0.key)" } ?? dtype.name
        case .untyped: return "torch.UntypedStorage"
        }
    }
}

/// A global the allow-list lets a pickle name.
enum PickleGlobal: Equatable {
    case orderedDict, builtinDict, builtinList, builtinSet, builtinFrozenset, builtinTuple, builtinComplex
    case codecsEncode
    case rebuildTensorV2, rebuildTensorV3, rebuildParameter, rebuildParameterWithState
    case torchSize, torchDevice
    case storageType(TorchStorageType)
    /// `torch.Tensor`, `torch.nn.parameter.Parameter`: as the type argument of
    /// `_rebuild_from_type_v2` only.
    case tensorClass(String)
    case rebuildFromTypeV2

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .builtinDict: return "builtins.dict"
        case .builtinList: return "builtins.list"
        case .builtinSet: return "builtins.set"
        case .builtinFrozenset: return "builtins.frozenset"
        case .builtinTuple: return "builtins.tuple"
        case .builtinComplex: return "builtins.complex"
        case .codecsEncode: return "_codecs.encode"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: return "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .torchSize: return "torch.Size"
        case .torchDevice: return "torch.device"
        case let .storageType(type): return type.name
        case let .tensorClass(name): return name
        case .rebuildFromTypeV2: return "torch._tensor._rebuild_from_type_v2"
        }
    }
}

/// `('storage', StorageType, key, location, numel[, view metadata])`.
struct TorchStorageRef: Equatable {
    let type: TorchStorageType
    /// The storage's key: `data/<key>` in a zip, a position in a legacy file's storage list.
    let key: String
    /// Elements of the storage's dtype for a typed storage, bytes for an untyped one.
    let numel: Int
    /// Legacy (pre-1.6) storage views: where this one starts inside storage `key`, in
    /// elements; 0 otherwise.
    var viewOffset = 0
    var isView = false

    /// Bytes per element the storage counts in.
    var unitSize: Int? {
        switch type {
        case .untyped: return 1
        case let .typed(dtype): return dtype.dtype?.byteWidth
        }
    }
}

/// A tensor as `_rebuild_tensor_v2/v3` describe it: a window of a storage.
struct TorchTensorRecord: Equatable {
    let storage: TorchStorageRef
    let dtype: TorchDType
    /// In elements of `dtype`.
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}
