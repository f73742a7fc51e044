// Where the repository is, seen from a test: fixtures, scripts and the built binary are
// found from the package root, whichever test target asks.

import Foundation

public enum Repository {
    /// The folder holding Package.swift.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    /// A path below the root: `Repository.path("fixtures/models/gpt2-tiny")`.
    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The debug `loft` binary, when `swift build` has made it ($LOFT_BINARY instead, to run
    /// the command tests against another build, e.g. an older one).
    public static var binary: String? {
        if let other = ProcessInfo.processInfo.environment["LOFT_BINARY"] { return other }
        let path = root.appendingPathComponent(".build/debug/loft").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
}
