// JSON documents, parsed by json-c into a small Swift value.
//
// json-c keeps object members in document order, which safetensors and the sharded index
// need (metadata keys are rewritten in the order read). It silently keeps the last of two
// equal keys, so `parse` runs `JSONDuplicateKeys` over the text first: the safetensors
// README forbids duplicate names, and serde (the Rust reference) rejects duplicate fields.

import CJSONC

public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// An integer that fits in Int64.
    case integer(Int64)
    /// An integer above Int64.max (json-c reads up to UInt64.max).
    case largeUnsigned(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var objectMembers: [JSONMember]? { if case let .object(m) = self { return m } else { return nil } }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a } else { return nil } }
    public var intValue: Int? { if case let .integer(i) = self { return Int(exactly: i) } else { return nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    /// Integers and doubles as Double.
    public var doubleValue: Double? {
        switch self {
        case let .integer(i): return Double(i)
        case let .largeUnsigned(u): return Double(u)
        case let .double(d): return d
        default: return nil
        }
    }
}

public struct JSONMember: Equatable, Sendable {
    public var key: String
    public var value: JSONValue
    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

public struct JSONError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

public enum JSON {
    /// Parses one JSON document (surrounding whitespace allowed, nothing else). Rejects invalid
    /// UTF-8, anything json-c's strict mode rejects, nesting deeper than `maxDepth`, and
    /// duplicate keys in any object.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int32 = 64) throws -> JSONValue {
        if let duplicate = try JSONDuplicateKeys.firstDuplicate(in: bytes) {
            throw JSONError(message: "duplicate key \"\(duplicate)\"")
        }
        guard let tokener = json_tokener_new_ex(maxDepth) else { throw JSONError(message: "out of memory") }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
        let empty: [CChar] = [0]
        let object = empty.withUnsafeBufferPointer { emptyPointer in
            json_tokener_parse_ex(tokener, base ?? emptyPointer.baseAddress!, Int32(clamping: bytes.count))
        }
        let status = json_tokener_get_error(tokener)
        guard status == json_tokener_success else {
            if status == json_tokener_continue { throw JSONError(message: "unexpected end of JSON") }
            let reason = String(cString: json_tokener_error_desc(status))
            throw JSONError(message: "\(reason) at byte \(json_tokener_get_parse_end(tokener))")
        }
        defer { json_object_put(object) }
        let end = Int(json_tokener_get_parse_end(tokener))
        for index in end..<bytes.count where !isJSONWhitespace(bytes[index]) {
            throw JSONError(message: "unexpected data after the JSON value at byte \(index)")
        }
        return convert(object)
    }

    public static func parse(_ text: String) throws -> JSONValue {
        var copy = text
        return try copy.withUTF8 { try parse(UnsafeRawBufferPointer($0)) }
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func convert(_ object: OpaquePointer?) -> JSONValue {
        guard let object else { return .null }
        switch json_object_get_type(object) {
        case json_type_null: return .null
        case json_type_boolean: return .bool(json_object_get_boolean(object) != 0)
        case json_type_double: return .double(json_object_get_double(object))
        case json_type_int:
            let signed = json_object_get_int64(object)
            if signed == Int64.max {
                let unsigned = json_object_get_uint64(object)
                if unsigned > UInt64(Int64.max) { return .largeUnsigned(unsigned) }
            }
            return .integer(signed)
        case json_type_string:
            let length = Int(json_object_get_string_len(object))
            let pointer = UnsafeRawPointer(json_object_get_string(object)!)
            return .string(String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self))
        case json_type_array:
            let count = json_object_array_length(object)
            return .array((0..<count).map { convert(json_object_array_get_idx(object, $0)) })
        case json_type_object:
            var members: [JSONMember] = []
            var iterator = json_object_iter_begin(object)
            var end = json_object_iter_end(object)
            while json_object_iter_equal(&iterator, &end) == 0 {
                let name = String(cString: json_object_iter_peek_name(&iterator))
                members.append(JSONMember(name, convert(json_object_iter_peek_value(&iterator))))
                json_object_iter_next(&iterator)
            }
            return .object(members)
        default: return .null
        }
    }
}
