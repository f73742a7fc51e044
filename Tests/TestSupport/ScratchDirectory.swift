// A fresh directory for one test, removed when the value is dropped (or by `remove()`).

import Foundation

public final class ScratchDirectory: @unchecked Sendable {
    public let path: String

    public init() {
        path = NSTemporaryDirectory() + "loft-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { path + "/" + name }
    public func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
    deinit { remove() }
}
