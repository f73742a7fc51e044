// Serialising JSONValue through json-c.
//
// `compact` is the form of safetensors headers (serde_json::to_string: no spaces, `/` not
// escaped); `indented` the form of Hugging Face index and config files (2 spaces).

import CJSONC

public enum JSONStyle: Sendable { case compact, indented }

extension JSON {
    public static func serialize(_ value: JSONValue, style: JSONStyle = .compact) -> String {
        let object = makeObject(value)
        defer { json_object_put(object) }
        var flags = JSON_C_TO_STRING_NOSLASHESCAPE
        if style == .indented { flags |= JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED }
        var length = 0
        let text = json_object_to_json_string_length(object, flags, &length)!
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    private static func makeObject(_ value: JSONValue) -> OpaquePointer? {
        switch value {
        case .null: return nil
        case let .bool(b): return json_object_new_boolean(b ? 1 : 0)
        case let .integer(i): return json_object_new_int64(i)
        case let .largeUnsigned(u): return json_object_new_uint64(u)
        case let .double(d): return json_object_new_double(d)
        case let .string(s):
            var copy = s
            return copy.withUTF8 { json_object_new_string_len(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), Int32($0.count)) }
        case let .array(items):
            let array = json_object_new_array_ext(Int32(items.count))
            for item in items { json_object_array_add(array, makeObject(item)) }
            return array
        case let .object(members):
            let object = json_object_new_object()
            for member in members { json_object_object_add(object, member.key, makeObject(member.value)) }
            return object
        }
    }
}
