// PythonJSON reproduces `json.dumps` (the index file's writer). Expected texts are Python
// 3.11's output for the same values; when python3 is installed the test also asks it.

import Foundation
import Testing
@testable import TensorIO

@Suite struct SafetensorsPythonJSONTests {
    static let floats: [(Double, String)] = [
        (0.0, "0.0"), (-0.0, "-0.0"), (1.0, "1.0"), (0.5, "0.5"), (1e-4, "0.0001"), (1e-5, "1e-05"),
        (1.5e-7, "1.5e-07"), (123456.789, "123456.789"), (1e15, "1000000000000000.0"), (1e16, "1e+16"),
        (1.5e16, "1.5e+16"), (2.5e300, "2.5e+300"), (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (0.1 + 0.2, "0.30000000000000004"), (1.0 / 3, "0.3333333333333333"), (100.0, "100.0"),
        (12345678901234567.0, "1.2345678901234568e+16"), (.nan, "NaN"), (.infinity, "Infinity"), (-.infinity, "-Infinity"),
        (-2.5e-5, "-2.5e-05"),
    ]

    @Test func floatsAsPythonRepr() {
        for (value, python) in Self.floats { #expect(PythonJSON.floatRepr(value) == python, "\(value)") }
    }

    static let document = PythonJSONValue.object([
        PythonJSONMember("b", .array([.integer(1), .double(2.5), .null, .bool(true), .bool(false), .array([]), .object([])])),
        PythonJSONMember("a", .string("é😀\u{7f}")),
        PythonJSONMember("é", .object([PythonJSONMember("z", .integer(1)), PythonJSONMember("A", .array([]))])),
    ])

    @Test func indentedSortedAsTransformersWritesIt() {
        let python = """
        {
          "a": "\\u00e9\\ud83d\\ude00\\u007f",
          "b": [
            1,
            2.5,
            null,
            true,
            false,
            [],
            {}
          ],
          "\\u00e9": {
            "A": [],
            "z": 1
          }
        }
        """
        #expect(PythonJSON.dumps(Self.document) == python)
    }

    @Test func compactDefaultSeparators() {
        let value = PythonJSONValue.object([PythonJSONMember("b", .array([.integer(1), .object([])])), PythonJSONMember("a", .string("x"))])
        #expect(PythonJSON.dumps(value, indent: nil, sortKeys: false) == #"{"b": [1, {}], "a": "x"}"#)
    }

    @Test(.requiresPython("numpy", "safetensors", "ml_dtypes")) func agreesWithPythonAtTestTime() throws {
        // Python re-dumps what it parses from our compact text; the indented text must match.
        let script = "import sys, json; print(json.dumps(json.loads(sys.argv[1]), indent=2, sort_keys=True), end='')"
        let text = PythonJSON.dumps(Self.document, indent: nil, sortKeys: false)
        let python = try Python.output(script, [text])
        #expect(PythonJSON.dumps(Self.document) == python)
    }
}
