// Shared by the NumPy tests: where the fixtures are, what numpy says they hold, and a way to
// ask python3 + numpy about files loft wrote.

import Foundation
import Testing
@testable import TensorIO

enum NumPyFixtures {
    static let root = Repository.root.appendingPathComponent("fixtures/numpy")

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func json(_ relative: String) -> JSONValue {
        let data = FileManager.default.contents(atPath: path(relative))!
        return try! data.withUnsafeBytes { try JSON.parse($0) }
    }

    static let manifest = json("manifest.json")

    struct Expected: CustomStringConvertible {
        let file: String
        let name: String
        let dtype: String
        let shape: [Int]
        let raw: String
        var description: String { "\(file):\(name)" }
        var bytes: [UInt8] { [UInt8](FileManager.default.contents(atPath: NumPyFixtures.path(raw))!) }
    }

    /// Each file of one kind ("npy" or "npz") with the tensors numpy read from it.
    static func files(_ kind: String) -> [(file: String, tensors: [Expected])] {
        manifest[kind]!.objectMembers!.map { member in
            (member.key, member.value.arrayValue!.map { t in
                Expected(file: member.key, name: t["name"]!.stringValue!, dtype: t["dtype"]!.stringValue!,
                         shape: t["shape"]!.arrayValue!.map { $0.intValue! }, raw: t["raw"]!.stringValue!)
            })
        }
    }

    static var npyNames: [String] { files("npy").map(\.file) }
    static var npzNames: [String] { files("npz").map(\.file) }
    static func tensors(_ kind: String, _ file: String) -> [Expected] { files(kind).first { $0.file == file }!.tensors }

    /// malformed file -> the error case loft must raise.
    static var malformed: [(file: String, error: String)] {
        json("malformed.json").objectMembers!.map { ($0.key, $0.value["error"]!.stringValue!) }
    }
}

/// The case name of an error enum value (`.badShape(path:...)` -> "badShape").
func errorCaseName(_ error: Error) -> String {
    Mirror(reflecting: error).children.first?.label ?? String(describing: error)
}



extension TensorData {
    /// A copy of the bytes, taken while the owner (mapping or buffer) is certainly alive.
    var npyTestBytes: [UInt8] { withExtendedLifetime(self) { Array(bytes) } }
}
