// A pickle virtual machine that builds data and never executes anything.
//
// It runs the opcodes of protocols 2 to 5 that hold data (numbers, strings, bytes, tuples,
// lists, dicts, sets, memo, marks, framing) over a PickleHeap. Opcodes that name code are
// interpreted, never run: GLOBAL/STACK_GLOBAL resolve through PickleAllowList (anything
// else is refused by name), REDUCE/NEWOBJ/BUILD call only what the allow-list interprets,
// and BINPERSID hands the id to the container (a torch storage reference). Refused outright:
// INST and OBJ (instantiate arbitrary classes), EXT1/2/4 (the copyreg extension registry),
// PERSID (text ids, never written by torch), out-of-band buffers (NEXT_BUFFER,
// READONLY_BUFFER), the protocol 0 text opcodes, and any byte that is not an opcode.
//
// Bounded: every length is checked against the bytes left before anything is read or
// allocated, and the stack, the mark stack, the memo and the object count have limits,
// so a hostile pickle ends in an error in time linear in its size.

struct PickleLimits {
    var stack = 1 << 20
    var marks = 1 << 16
    var memo = 1 << 20
    var objects = 1 << 24

    static let standard = PickleLimits()
}

struct PickleMachine {
    /// Decodes the persistent id object (already on the heap) into an object.
    typealias PersistentLoad = (PickleHeap, PickleRef, Int) throws -> PickleRef

    let bytes: UnsafeRawBufferPointer
    let path: String
    let limits: PickleLimits

    /// Runs one pickle from `start` to its STOP. Returns the heap, the result and the offset
    /// just past STOP.
    func run(from start: Int = 0, heap: PickleHeap = PickleHeap(), persistentLoad: PersistentLoad) throws -> (heap: PickleHeap, root: PickleRef, end: Int) {
        var position = start
        var stack: [PickleRef] = []
        var marks: [Int] = []
        var memo: [Int: PickleRef] = [:]
        var opcodeOffset = start
        var opcodeName = ""

        func malformed(_ reason: String) -> PickleError { .malformed(path: path, offset: opcodeOffset, reason: reason) }
        func need(_ count: Int) throws {
            guard count >= 0, count <= bytes.count - position else { throw PickleError.truncated(path: path, offset: opcodeOffset, opcode: opcodeName) }
        }
        func u8() throws -> Int { try need(1); defer { position += 1 }; return Int(bytes[position]) }
        func uLE(_ width: Int) throws -> UInt64 {
            try need(width)
            var value: UInt64 = 0
            for i in 0..<width { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += width
            return value
        }
        /// A length field; checked against the bytes left (the data must follow it).
        func length(_ width: Int) throws -> Int {
            let value = try uLE(width)
            guard value <= UInt64(bytes.count - position) else { throw PickleError.truncated(path: path, offset: opcodeOffset, opcode: opcodeName) }
            return Int(value)
        }
        func take(_ count: Int) throws -> UnsafeRawBufferPointer {
            try need(count)
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        }
        func utf8(_ count: Int) throws -> String {
            guard let text = validUTF8(try take(count)) else { throw malformed("string is not valid UTF-8") }
            return text
        }
        func line() throws -> String {
            var end = position
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            guard end < bytes.count else { throw PickleError.truncated(path: path, offset: opcodeOffset, opcode: opcodeName) }
            defer { position = end + 1 }
            guard let text = validUTF8(UnsafeRawBufferPointer(rebasing: bytes[position..<end])) else { throw malformed("line is not valid UTF-8") }
            return text
        }
        func add(_ object: PickleObject) throws -> PickleRef {
            guard heap.objects.count < limits.objects else { throw PickleError.limitExceeded(path: path, offset: opcodeOffset, what: "objects", limit: limits.objects) }
            return heap.add(object)
        }
        func push(_ ref: PickleRef) throws {
            guard stack.count < limits.stack else { throw PickleError.limitExceeded(path: path, offset: opcodeOffset, what: "stack depth", limit: limits.stack) }
            stack.append(ref)
        }
        func pop() throws -> PickleRef {
            guard let top = stack.popLast(), (marks.last ?? 0) <= stack.count else { throw malformed("\(opcodeName) on an empty stack") }
            return top
        }
        func top() throws -> PickleRef {
            guard let top = stack.last, (marks.last ?? 0) < stack.count else { throw malformed("\(opcodeName) on an empty stack") }
            return top
        }
        func popMark() throws -> [PickleRef] {
            guard let mark = marks.popLast() else { throw malformed("\(opcodeName) without a MARK") }
            defer { stack.removeSubrange(mark...) }
            return Array(stack[mark...])
        }
        func put(_ index: Int) throws {
            guard memo.count < limits.memo || memo[index] != nil else { throw PickleError.limitExceeded(path: path, offset: opcodeOffset, what: "memo entries", limit: limits.memo) }
            memo[index] = try top()
        }
        func get(_ index: Int) throws {
            guard let ref = memo[index] else { throw malformed("memo entry \(index) was never stored") }
            try push(ref)
        }
        func global(_ module: String, _ name: String) throws -> PickleRef {
            guard let object = PickleAllowList.resolve(module: module, name: name) else {
                throw PickleError.forbiddenGlobal(path: path, offset: opcodeOffset, name: "\(module).\(name)")
            }
            return try add(object)
        }
        func append(_ items: [PickleRef], to target: PickleRef) throws {
            guard case let .list(index) = heap[target] else { throw malformed("\(opcodeName) to a \(heap.summary(target)), not a list") }
            guard heap.lists[index].count + items.count <= limits.objects else { throw PickleError.limitExceeded(path: path, offset: opcodeOffset, what: "list length", limit: limits.objects) }
            heap.lists[index].append(contentsOf: items)
        }
        func setItems(_ items: [PickleRef], in target: PickleRef) throws {
            guard case let .dict(index) = heap[target] else { throw malformed("\(opcodeName) on a \(heap.summary(target)), not a dict") }
            guard items.count % 2 == 0 else { throw malformed("\(opcodeName) with an odd number of items") }
            for pair in stride(from: 0, to: items.count, by: 2) {
                guard let key = heap.hashKey(items[pair]) else { throw malformed("unhashable dict key (\(heap.summary(items[pair])))") }
                heap.setItem(dict: index, key: items[pair], value: items[pair + 1], hashKey: key)
            }
        }
        func callee(_ ref: PickleRef) throws -> PickleGlobal {
            guard case let .global(global) = heap[ref] else { throw malformed("\(opcodeName) calls a \(heap.summary(ref)), not an allowed global") }
            return global
        }
        func callFailure(_ global: PickleGlobal) -> (String) -> PickleError {
            { PickleError.forbiddenCall(path: path, offset: opcodeOffset, callee: global.qualifiedName, reason: $0) }
        }
        func tupleItems(_ ref: PickleRef) throws -> [PickleRef] {
            guard case let .tuple(items) = heap[ref] else { throw malformed("\(opcodeName) arguments are a \(heap.summary(ref)), not a tuple") }
            return items
        }

        while true {
            opcodeOffset = position
            guard position < bytes.count else { throw PickleError.truncated(path: path, offset: position, opcode: "the opcode stream (no STOP)") }
            let code = bytes[position]
            position += 1
            opcodeName = PickleMachine.name(of: code)
            switch code {
            case 0x80:  // PROTO
                let version = try u8()
                guard version <= 5 else { throw malformed("unsupported protocol \(version)") }
            case 0x95:  // FRAME: a length prefix for buffering; the bytes follow anyway.
                _ = try length(8)
            case 0x2E:  // STOP
                let result = try pop()
                return (heap, result, position)
            case 0x28:  // MARK
                guard marks.count < limits.marks else { throw PickleError.limitExceeded(path: path, offset: opcodeOffset, what: "nested marks", limit: limits.marks) }
                marks.append(stack.count)
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: try push(try top())  // DUP
            case 0x4E: try push(try add(.none))  // NONE
            case 0x88: try push(try add(.bool(true)))  // NEWTRUE
            case 0x89: try push(try add(.bool(false)))  // NEWFALSE
            case 0x4B: try push(try add(.int(Int64(try uLE(1)))))  // BININT1
            case 0x4D: try push(try add(.int(Int64(try uLE(2)))))  // BININT2
            case 0x4A: try push(try add(.int(Int64(Int32(truncatingIfNeeded: try uLE(4))))))  // BININT
            case 0x8A, 0x8B:  // LONG1, LONG4: little-endian two's complement of n bytes
                let count = try length(code == 0x8A ? 1 : 4)
                let data = try take(count)
                if count <= 8 {
                    var value: UInt64 = 0
                    for i in 0..<count { value |= UInt64(data[i]) << (8 * UInt64(i)) }
                    if count > 0, count < 8, data[count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
                    try push(try add(.int(Int64(bitPattern: value))))
                } else {
                    try push(try add(.bigInt(bytes: count)))
                }
            case 0x47:  // BINFLOAT: big-endian double
                let data = try take(8)
                var bits: UInt64 = 0
                for byte in data { bits = bits << 8 | UInt64(byte) }
                try push(try add(.float(Double(bitPattern: bits))))
            case 0x58: try push(try add(.string(try utf8(try length(4)))))  // BINUNICODE
            case 0x8C: try push(try add(.string(try utf8(try length(1)))))  // SHORT_BINUNICODE
            case 0x8D: try push(try add(.string(try utf8(try length(8)))))  // BINUNICODE8
            case 0x54: try push(try add(.string(try utf8(try length(4)))))  // BINSTRING (Python 2 str)
            case 0x55: try push(try add(.string(try utf8(try length(1)))))  // SHORT_BINSTRING
            case 0x42: try push(try add(.bytes(Array(try take(try length(4))))))  // BINBYTES
            case 0x43: try push(try add(.bytes(Array(try take(try length(1))))))  // SHORT_BINBYTES
            case 0x8E, 0x96: try push(try add(.bytes(Array(try take(try length(8))))))  // BINBYTES8, BYTEARRAY8
            case 0x29: try push(try add(.tuple([])))  // EMPTY_TUPLE
            case 0x85: try push(try add(.tuple([try pop()])))  // TUPLE1
            case 0x86:  // TUPLE2
                let b = try pop(), a = try pop()
                try push(try add(.tuple([a, b])))
            case 0x87:  // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                try push(try add(.tuple([a, b, c])))
            case 0x74: try push(try add(.tuple(try popMark())))  // TUPLE
            case 0x5D: try push(heap.newList())  // EMPTY_LIST
            case 0x6C: try push(heap.newList(try popMark()))  // LIST
            case 0x7D: try push(heap.newDict())  // EMPTY_DICT
            case 0x8F: try push(heap.newList())  // EMPTY_SET (kept as a list)
            case 0x64:  // DICT
                let items = try popMark()
                let dict = heap.newDict()
                try setItems(items, in: dict)
                try push(dict)
            case 0x91: try push(heap.newList(try popMark()))  // FROZENSET
            case 0x61:  // APPEND
                let item = try pop()
                try append([item], to: try top())
            case 0x65, 0x90:  // APPENDS, ADDITEMS
                let items = try popMark()
                try append(items, to: try top())
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value], in: try top())
            case 0x75:  // SETITEMS
                let items = try popMark()
                try setItems(items, in: try top())
            case 0x71: try put(try Int(uLE(1)))  // BINPUT
            case 0x72: try put(try Int(uLE(4)))  // LONG_BINPUT
            case 0x94: try put(memo.count)  // MEMOIZE
            case 0x68: try get(try Int(uLE(1)))  // BINGET
            case 0x6A: try get(try Int(uLE(4)))  // LONG_BINGET
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                try push(try global(module, name))
            case 0x93:  // STACK_GLOBAL
                let nameRef = try pop(), moduleRef = try pop()
                guard case let .string(module) = heap[moduleRef], case let .string(name) = heap[nameRef] else {
                    throw malformed("STACK_GLOBAL needs two strings")
                }
                try push(try global(module, name))
            case 0x52:  // REDUCE
                let args = try pop()
                let function = try callee(try pop())
                try push(try PickleAllowList.call(function, args: try tupleItems(args), heap: heap, fail: callFailure(function)))
            case 0x81:  // NEWOBJ
                let args = try pop()
                let cls = try callee(try pop())
                try push(try PickleAllowList.newObject(cls, args: try tupleItems(args), heap: heap, fail: callFailure(cls)))
            case 0x92:  // NEWOBJ_EX
                let kwargs = try pop(), args = try pop()
                let cls = try callee(try pop())
                guard case let .dict(index) = heap[kwargs], heap.dicts[index].keys.isEmpty else {
                    throw callFailure(cls)("keyword arguments are not allowed")
                }
                try push(try PickleAllowList.newObject(cls, args: try tupleItems(args), heap: heap, fail: callFailure(cls)))
            case 0x62:  // BUILD: set an object's state. Dicts (an OrderedDict's _metadata) and
                // tensors (a parameter's attributes) may take one; their state is not needed.
                let state = try pop()
                let target = try top()
                switch heap[target] {
                case .dict, .tensor: break
                default: throw malformed("BUILD on a \(heap.summary(target)) (state \(heap.summary(state)))")
                }
            case 0x51:  // BINPERSID
                let id = try pop()
                try push(try persistentLoad(heap, id, opcodeOffset))
            default:
                throw PickleError.forbiddenOpcode(path: path, offset: opcodeOffset, opcode: opcodeName)
            }
        }
    }

    static func name(of code: UInt8) -> String {
        if let name = names[code] { return name }
        let hex = String(code, radix: 16, uppercase: true)
        return "0x" + (hex.count == 1 ? "0" + hex : hex) + " (not an opcode)"
    }

    static let names: [UInt8: String] = [
            0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT", 0x4A: "BININT",
            0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE",
            0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND",
            0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
            0x69: "INST", 0x6A: "LONG_BINGET", 0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT",
            0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
            0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
            0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES",
            0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET",
            0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
            0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
        ]
}
