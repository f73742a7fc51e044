// The .npy header, shared by the .npy and .npz readers and writers.
//
//   bytes 0-5   magic \x93NUMPY
//   bytes 6-7   version major, minor: 1.0, 2.0 or 3.0
//   then        header length: u16 LE (1.0) or u32 LE (2.0, 3.0)
//   then        the header: a Python dict literal with exactly the keys 'descr',
//               'fortran_order' and 'shape', latin-1 (1.0, 2.0) or utf-8 (3.0), padded with
//               spaces and a final '\n' so the data starts at a multiple of 64
//   then        the data: elements in the byte order of descr, C or Fortran order
//
// The parser is strict about content and lenient about spelling, like NumPy: any spacing,
// quotes or trailing commas `ast.literal_eval` accepts; but a key set other than the three,
// a duplicate key (NumPy keeps the last; loft refuses), a non-bool fortran_order, a shape
// that is not a tuple of non-negative integers, or a non-numeric descr are errors.

public struct NpyHeader: Equatable {
    public var dtype: DType
    /// Data stored big-endian (descr '>'/'!'): swapped on read.
    public var bigEndian: Bool
    public var fortranOrder: Bool
    public var shape: [Int]
    /// Offset of the first data byte (magic + length field + header text).
    public var dataOffset: Int
    public var byteCount: Int
}

enum NpyFormat {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// NumPy refuses headers over 10,000 characters by default; loft allows more room but
    /// still caps what a hostile length field can make it read.
    static let maxHeaderLength = 1 << 20
    /// Enough bytes to know the version and the header length.
    static let prefixLength = 12

    /// Version and end of the header from the first bytes (at least 12 unless the input is
    /// shorter; then what there is).
    static func headerEnd(prefix: UnsafeRawBufferPointer, path: String, tensor: String) throws -> (major: UInt8, minor: UInt8, end: Int) {
        let magicMatches = zip(prefix.prefix(6), magic).allSatisfy { $0 == $1 }
        guard magicMatches else { throw NpyError.badMagic(path: path, tensor: tensor) }
        guard prefix.count >= 8 else { throw NpyError.truncated(path: path, tensor: tensor, what: "magic and version") }
        let major = prefix[6], minor = prefix[7]
        let lengthSize: Int
        switch (major, minor) {
        case (1, 0): lengthSize = 2
        case (2, 0), (3, 0): lengthSize = 4
        default: throw NpyError.unsupportedVersion(path: path, tensor: tensor, major: Int(major), minor: Int(minor))
        }
        guard prefix.count >= 8 + lengthSize else { throw NpyError.truncated(path: path, tensor: tensor, what: "header length") }
        var length = 0
        for i in 0..<lengthSize { length |= Int(prefix[8 + i]) << (8 * i) }
        guard length <= maxHeaderLength else { throw NpyError.headerTooLarge(path: path, tensor: tensor, length: length) }
        return (major, minor, 8 + lengthSize + length)
    }

    /// Parses the whole header; `bytes` holds at least the header (data may follow).
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String, tensor: String) throws -> NpyHeader {
        let (major, _, end) = try headerEnd(prefix: UnsafeRawBufferPointer(rebasing: bytes.prefix(prefixLength)), path: path, tensor: tensor)
        guard end <= bytes.count else {
            throw NpyError.headerLengthPastEnd(path: path, tensor: tensor, headerEnd: end, available: bytes.count)
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[(major == 1 ? 10 : 12)..<end])
        let utf8 = major == 3
        if utf8 && validUTF8(text) == nil {
            throw NpyError.headerNotText(path: path, tensor: tensor, encoding: "utf-8")
        }
        let literal: PythonLiteral
        do { literal = try PythonLiteral.parse(text, utf8: utf8) } catch let error as PythonLiteral.SyntaxError {
            throw NpyError.badHeader(path: path, tensor: tensor, reason: error.message)
        }
        return try interpret(literal, dataOffset: end, path: path, tensor: tensor)
    }

    static func interpret(_ literal: PythonLiteral, dataOffset: Int, path: String, tensor: String) throws -> NpyHeader {
        guard case let .dict(members) = literal else {
            throw NpyError.badHeader(path: path, tensor: tensor, reason: "not a dictionary: \(literal.pythonDescription.prefix(80))")
        }
        var fields: [String: PythonLiteral] = [:]
        for member in members {
            guard case let .string(key) = member.key else {
                throw NpyError.badHeader(path: path, tensor: tensor, reason: "key \(member.key.pythonDescription.prefix(80)) is not a string")
            }
            guard fields[key] == nil else { throw NpyError.badHeader(path: path, tensor: tensor, reason: "duplicate key '\(key)'") }
            fields[key] = member.value
        }
        guard Set(fields.keys) == ["descr", "fortran_order", "shape"] else {
            throw NpyError.badHeader(path: path, tensor: tensor,
                                     reason: "keys must be exactly descr, fortran_order, shape; found \(fields.keys.sorted())")
        }
        guard case let .bool(fortranOrder) = fields["fortran_order"]! else {
            throw NpyError.badHeader(path: path, tensor: tensor, reason: "fortran_order is not a bool: \(fields["fortran_order"]!.pythonDescription.prefix(80))")
        }
        guard case let .tuple(entries) = fields["shape"]! else {
            throw NpyError.badShape(path: path, tensor: tensor, reason: "not a tuple: \(fields["shape"]!.pythonDescription.prefix(80))")
        }
        var shape: [Int] = []
        for entry in entries {
            guard case let .integer(value) = entry else {
                throw NpyError.badShape(path: path, tensor: tensor, reason: "entry \(entry.pythonDescription.prefix(40)) is not an integer")
            }
            guard let dim = value else { throw NpyError.sizeOverflow(path: path, tensor: tensor) }
            guard dim >= 0 else { throw NpyError.badShape(path: path, tensor: tensor, reason: "negative dimension \(dim)") }
            shape.append(dim)
        }
        let (dtype, bigEndian) = try dtype(descr: fields["descr"]!, path: path, tensor: tensor)
        guard let sizes = TensorInfo.checkedSizes(shape: shape, dtype: dtype) else { throw NpyError.sizeOverflow(path: path, tensor: tensor) }
        return NpyHeader(dtype: dtype, bigEndian: bigEndian, fortranOrder: fortranOrder, shape: shape, dataOffset: dataOffset, byteCount: sizes.bytes)
    }

    /// The element types of `dtype.str` that loft reads, without the byte-order character.
    static let descrTypes: [String: DType] = [
        "b1": .BOOL, "i1": .I8, "u1": .U8, "i2": .I16, "u2": .U16, "i4": .I32, "u4": .U32,
        "i8": .I64, "u8": .U64, "f2": .F16, "f4": .F32, "f8": .F64, "c8": .C64, "c16": .C128,
    ]

    static func dtype(descr: PythonLiteral, path: String, tensor: String) throws -> (DType, Bool) {
        switch descr {
        case .string(let text):
            var body = Substring(text)
            var bigEndian = false
            if let first = body.first, "<>=|!".contains(first) {
                bigEndian = first == ">" || first == "!"
                body = body.dropFirst()
            }
            if let dtype = descrTypes[String(body)] {
                return (dtype, bigEndian && dtype.bitWidth > 8)
            }
            if body == "c" { throw NpyError.stringDType(path: path, tensor: tensor, descr: text) }
            switch body.first {
            case "O": throw NpyError.objectDType(path: path, tensor: tensor, descr: text)
            case "U", "S", "a": throw NpyError.stringDType(path: path, tensor: tensor, descr: text)
            case "M", "m": throw NpyError.datetimeDType(path: path, tensor: tensor, descr: text)
            case "V": throw NpyError.voidDType(path: path, tensor: tensor, descr: text)
            default: throw NpyError.unsupportedDType(path: path, tensor: tensor, descr: "'\(text)'")
            }
        case .list:
            throw NpyError.structuredDType(path: path, tensor: tensor)
        default:
            throw NpyError.unsupportedDType(path: path, tensor: tensor, descr: String(descr.pythonDescription.prefix(80)))
        }
    }

    // MARK: writing

    /// What np.save writes as descr for each dtype (its `dtype.str`, little-endian).
    static func descr(for dtype: DType) -> String? {
        switch dtype {
        case .BOOL: return "|b1"
        case .I8: return "|i1"
        case .U8: return "|u1"
        case .I16: return "<i2"
        case .U16: return "<u2"
        case .I32: return "<i4"
        case .U32: return "<u4"
        case .I64: return "<i8"
        case .U64: return "<u8"
        case .F16: return "<f2"
        case .F32: return "<f4"
        case .F64: return "<f8"
        case .C64: return "<c8"
        case .C128: return "<c16"
        default: return nil
        }
    }

    /// The header bytes np.save writes for a C-order array (numpy/lib/_format_impl.py:
    /// `_write_array_header`): keys sorted, each as `'key': repr(value), `, then 21 minus the
    /// digits of the first dimension spare spaces (room to grow that axis in place), then
    /// spaces and '\n' up to a multiple of 64. Version 1.0 unless the header needs more than
    /// 65535 bytes, then 2.0; 3.0 (utf-8) is never needed since descr is ASCII.
    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        if let first = shape.first {
            text += String(repeating: " ", count: max(0, 21 - String(first).count))
        }
        let body = Array(text.utf8)
        func wrap(lengthSize: Int) -> [UInt8] {
            let textLength = body.count + 1
            let padding = 64 - (8 + lengthSize + textLength) % 64
            let total = textLength + padding
            var out = magic + [lengthSize == 2 ? 1 : 2, 0]
            for i in 0..<lengthSize { out.append(UInt8(truncatingIfNeeded: total >> (8 * i))) }
            out += body
            out += [UInt8](repeating: 0x20, count: padding)
            out.append(0x0A)
            return out
        }
        // `padlen` is always 1...64 in NumPy (a full 64 when already aligned), so the u16
        // check is on the padded length.
        let v1 = wrap(lengthSize: 2)
        return v1.count - 10 <= 0xFFFF ? v1 : wrap(lengthSize: 4)
    }
}
