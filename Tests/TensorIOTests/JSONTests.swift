import Testing
@testable import TensorIO

@Suite struct JSONTests {
    @Test func parsesObjectsInDocumentOrder() throws {
        let value = try JSON.parse(#" {"b": 1, "a": [true, null, "x"], "c": {"d": 2.5}} "#)
        #expect(value.objectMembers?.map(\.key) == ["b", "a", "c"])
        #expect(value["a"] == .array([.bool(true), .null, .string("x")]))
        #expect(value["c"]?["d"] == .double(2.5))
    }

    @Test func rejectsDuplicateKeysAtAnyDepth() {
        #expect(throws: JSONError(message: "duplicate key \"a\"")) { try JSON.parse(#"{"a": 1, "a": 2}"#) }
        #expect(throws: JSONError(message: "duplicate key \"x\"")) { try JSON.parse(#"{"t": {"x": 1, "\u0078": 2}}"#) }
        #expect(throws: Never.self) { try JSON.parse(#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}"#) }
    }

    @Test func rejectsTrailingDataAndTruncation() {
        #expect(throws: JSONError.self) { try JSON.parse(#"{"a": 1} x"#) }
        #expect(throws: JSONError.self) { try JSON.parse(#"{"a": 1"#) }
    }

    @Test func distinguishesLargeUnsignedIntegers() throws {
        #expect(try JSON.parse("[18446744073709551615]") == .array([.largeUnsigned(UInt64.max)]))
        #expect(try JSON.parse("[-3]") == .array([.integer(-3)]))
    }
}

@Suite struct JSONWriterTests {
    @Test func compactFormMatchesSerdeJSON() {
        let value = JSONValue.object([JSONMember("__metadata__", .object([JSONMember("a/b", .string("x\"y"))])),
                                      JSONMember("t", .object([JSONMember("shape", .array([.integer(2), .integer(3)]))]))])
        #expect(JSON.serialize(value) == #"{"__metadata__":{"a/b":"x\"y"},"t":{"shape":[2,3]}}"#)
    }
}

@Suite struct JSONKeyIdentityTests {
    @Test func canonicallyEquivalentKeysAreDistinct() throws {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301): two keys, as in json-c and serde.
        let value = try JSON.parse("{\"\u{00E9}\": 1, \"e\u{0301}\": 2}")
        #expect(value.objectMembers?.count == 2)
    }
}
