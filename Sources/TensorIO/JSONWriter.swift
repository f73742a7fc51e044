// Serialising JSONValue through json-c.
//
// `compact` is serde_json::to_string's form (no spaces, `/` not escaped), through json-c.
// The indented forms are Python's `json.dumps(value, indent=2[, sort_keys=True])`, the text
// Hugging Face tools write (config.json, adapter_config.json, index files), through PythonJSON:
// json-c's pretty printer differs from it (empty containers, non-ASCII).

import CJSONC

public enum JSONStyle: Sendable {
    case compact
    /// `json.dumps(value, indent=2)`: members in their order.
    case indented
    /// `json.dumps(value, indent=2, sort_keys=True)`: what transformers and PEFT write.
    case indentedSortedKeys
    /// `json.dumps(value)`: one line, `", "` and `": "` between items (a JSON Lines record,
    /// a command's one-line result).
    case line
}

extension JSON {
    public static func serialize(_ value: JSONValue, style: JSONStyle = .compact) -> String {
        switch style {
        case .indented: return PythonJSON.dumps(PythonJSONValue(value), indent: 2, sortKeys: false)
        case .indentedSortedKeys: return PythonJSON.dumps(PythonJSONValue(value), indent: 2, sortKeys: true)
        case .line: return PythonJSON.dumps(PythonJSONValue(value), indent: nil, sortKeys: false)
        case .compact: break
        }
        let object = makeObject(value)
        defer { json_object_put(object) }
        let flags = JSON_C_TO_STRING_NOSLASHESCAPE
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
