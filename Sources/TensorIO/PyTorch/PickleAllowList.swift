// The globals a checkpoint's pickle may name, and what "calling" each one means. Modelled on
// torch's own `weights_only` unpickler: containers, numbers, `_codecs.encode` (how protocol
// 2 spells bytes), the tensor and parameter rebuild functions, storage classes, dtypes,
// `torch.Size` and `torch.device`. Nothing here imports or runs Python: each call is
// interpreted by loft, producing plain data or a tensor record. Any other name (`os.system`,
// `builtins.eval`, a model class) is refused where it is loaded, with its name.

enum PickleAllowList {
    /// The global `module.name`, or nil when it is not allowed.
    static func resolve(module: String, name: String) -> PickleObject? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .global(.orderedDict)
        case ("builtins", "dict"), ("__builtin__", "dict"): return .global(.builtinDict)
        case ("builtins", "list"), ("__builtin__", "list"): return .global(.builtinList)
        case ("builtins", "set"), ("__builtin__", "set"): return .global(.builtinSet)
        case ("builtins", "frozenset"), ("__builtin__", "frozenset"): return .global(.builtinFrozenset)
        case ("builtins", "tuple"), ("__builtin__", "tuple"): return .global(.builtinTuple)
        case ("builtins", "complex"), ("__builtin__", "complex"): return .global(.builtinComplex)
        case ("_codecs", "encode"): return .global(.codecsEncode)
        case ("torch._utils", "_rebuild_tensor_v2"): return .global(.rebuildTensorV2)
        case ("torch._utils", "_rebuild_tensor_v3"): return .global(.rebuildTensorV3)
        case ("torch._utils", "_rebuild_parameter"): return .global(.rebuildParameter)
        case ("torch._utils", "_rebuild_parameter_with_state"): return .global(.rebuildParameterWithState)
        case ("torch._tensor", "_rebuild_from_type_v2"): return .global(.rebuildFromTypeV2)
        case ("torch", "Size"): return .global(.torchSize)
        case ("torch", "device"): return .global(.torchDevice)
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"): return .global(.tensorClass("torch.Tensor"))
        case ("torch.nn.parameter", "Parameter"), ("torch.nn", "Parameter"): return .global(.tensorClass("torch.nn.parameter.Parameter"))
        default:
            if let storage = TorchStorageType(module: module, name: name) { return .global(.storageType(storage)) }
            if module == "torch", TorchDType.known[name] != nil || TorchDType.unsupported.contains(name) {
                return .dtype(TorchDType(name: name))
            }
            return nil
        }
    }

    /// REDUCE: `callee(*args)`.
    static func call(_ callee: PickleGlobal, args: [PickleRef], heap: PickleHeap, fail: (String) -> PickleError) throws -> PickleRef {
        func int(_ i: Int, _ what: String) throws -> Int {
            guard i < args.count, case let .int(value) = heap[args[i]], let result = Int(exactly: value) else {
                throw fail("\(what) is not an integer")
            }
            return result
        }
        func ints(_ i: Int, _ what: String) throws -> [Int] {
            guard i < args.count, case let .tuple(items) = heap[args[i]] else { throw fail("\(what) is not a tuple") }
            return try items.map { item in
                guard case let .int(value) = heap[item], let result = Int(exactly: value) else { throw fail("\(what) holds a non-integer") }
                return result
            }
        }
        func storage(_ i: Int) throws -> TorchStorageRef {
            guard i < args.count, case let .storage(storage) = heap[args[i]] else { throw fail("the first argument is not a storage") }
            return storage
        }
        func tensor(_ i: Int) throws -> PickleRef {
            guard i < args.count, case .tensor = heap[args[i]] else { throw fail("the first argument is not a tensor") }
            return args[i]
        }
        func iterable(_ i: Int) throws -> [PickleRef] {
            guard i < args.count else { return [] }
            switch heap[args[i]] {
            case let .tuple(items): return items
            case let .list(index): return heap.lists[index]
            default: throw fail("the argument is not a list or tuple")
            }
        }

        switch callee {
        case .orderedDict, .builtinDict:
            guard args.count <= 1 else { throw fail("expects at most one argument") }
            let dict = heap.newDict()
            guard case let .dict(index) = heap[dict] else { return dict }
            for pair in try iterable(0) {
                guard case let .tuple(kv) = heap[pair], kv.count == 2 else { throw fail("an item is not a (key, value) pair") }
                guard let key = heap.hashKey(kv[0]) else { throw fail("unhashable key") }
                heap.setItem(dict: index, key: kv[0], value: kv[1], hashKey: key)
            }
            return dict
        case .builtinList, .builtinSet, .builtinFrozenset:
            guard args.count <= 1 else { throw fail("expects at most one argument") }
            return heap.newList(try iterable(0))
        case .builtinTuple:
            guard args.count <= 1 else { throw fail("expects at most one argument") }
            return heap.add(.tuple(try iterable(0)))
        case .builtinComplex:
            func real(_ i: Int) throws -> Double {
                guard i < args.count else { return 0 }
                switch heap[args[i]] {
                case let .float(value): return value
                case let .int(value): return Double(value)
                default: throw fail("the arguments are not numbers")
                }
            }
            guard args.count <= 2 else { throw fail("expects at most two arguments") }
            return heap.add(.complex(try real(0), try real(1)))
        case .codecsEncode:
            // Protocol 2 writes bytes as _codecs.encode(latin-1 text, 'latin1').
            guard args.count == 2, case let .string(text) = heap[args[0]], case let .string(encoding) = heap[args[1]],
                  ["latin1", "latin-1", "iso-8859-1"].contains(encoding.lowercased()) else {
                throw fail("only encode(str, 'latin1') is allowed")
            }
            var bytes: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw fail("text is not latin-1") }
                bytes.append(UInt8(scalar.value))
            }
            return heap.add(.bytes(bytes))
        case .rebuildTensorV2, .rebuildTensorV3:
            let v3 = callee == .rebuildTensorV3
            guard args.count >= (v3 ? 7 : 6), args.count <= (v3 ? 8 : 7) else { throw fail("unexpected number of arguments (\(args.count))") }
            let source = try storage(0)
            let offset = try int(1, "the storage offset")
            let shape = try ints(2, "the size"), stride = try ints(3, "the stride")
            guard shape.count == stride.count else { throw fail("size and stride have different lengths") }
            let dtype: TorchDType
            if v3 {
                guard case let .dtype(value) = heap[args[6]] else { throw fail("the dtype argument is not a torch dtype") }
                dtype = value
            } else {
                guard case let .typed(value) = source.type else { throw fail("an untyped storage needs _rebuild_tensor_v3") }
                dtype = value
            }
            return heap.add(.tensor(TorchTensorRecord(storage: source, dtype: dtype, offset: offset, shape: shape, stride: stride)))
        case .rebuildParameter:
            guard args.count == 3 else { throw fail("expects 3 arguments") }
            return try tensor(0)
        case .rebuildParameterWithState:
            guard args.count == 4 else { throw fail("expects 4 arguments") }
            return try tensor(0)
        case .torchSize:
            guard args.count <= 1 else { throw fail("expects one tuple") }
            return heap.add(.tuple(try ints(0, "the size").map { heap.add(.int(Int64($0))) }))
        case .torchDevice:
            guard (1...2).contains(args.count), case let .string(kind) = heap[args[0]] else { throw fail("expects a device name") }
            return heap.add(.string(args.count == 2 ? "\(kind):\(try int(1, "the device index"))" : kind))
        case .rebuildFromTypeV2:
            // (func, type, args, state): a tensor subclass rebuilt by `func(*args)`; allowed
            // for plain tensors and parameters only.
            guard args.count == 4, case let .global(function) = heap[args[0]], case .global(.tensorClass) = heap[args[1]] else {
                throw fail("only plain tensors and parameters may be rebuilt")
            }
            guard case let .tuple(inner) = heap[args[2]] else { throw fail("the arguments are not a tuple") }
            guard [.rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildParameterWithState].contains(function) else {
                throw fail("'\(function.qualifiedName)' does not rebuild a tensor")
            }
            return try call(function, args: inner, heap: heap, fail: fail)
        case .storageType, .tensorClass:
            throw fail("constructing it is not allowed")
        }
    }

    /// NEWOBJ: `cls.__new__(cls, *args)`: empty containers only.
    static func newObject(_ cls: PickleGlobal, args: [PickleRef], heap: PickleHeap, fail: (String) -> PickleError) throws -> PickleRef {
        guard args.isEmpty else { throw fail("__new__ with arguments is not allowed") }
        switch cls {
        case .orderedDict, .builtinDict: return heap.newDict()
        case .builtinList, .builtinSet, .builtinFrozenset: return heap.newList()
        default: throw fail("__new__ is not allowed for it")
        }
    }
}
