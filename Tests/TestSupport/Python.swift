// The Python peers (numpy, safetensors, torch, transformers, peft, ...) as tests use them:
// running a script, and traits that skip a test — reported as skipped, not passed — when
// python3 or a module it needs is missing.
//
//     @Test(.requiresPython("numpy", "safetensors")) func roundTrip() throws { ... }

import Foundation
import Testing

public enum Python {
    /// The interpreter: $PYTHON when set, else python3 from PATH.
    public static var command: [String] {
        if let python = ProcessInfo.processInfo.environment["PYTHON"] { return [python] }
        return ["/usr/bin/env", "python3"]
    }

    /// Runs `python3 -c script arguments...`; nil when python3 cannot be started. Output is
    /// stdout, with stderr appended when `mergeStandardError`.
    public static func run(_ script: String, arguments: [String] = [], mergeStandardError: Bool = true) -> (status: Int32, output: String)? {
        run(command: ["-c", script] + arguments, mergeStandardError: mergeStandardError)
    }

    /// Runs a script file of the repository (`scripts/peft_eval.py`) with arguments.
    public static func runScript(_ relative: String, arguments: [String] = [], mergeStandardError: Bool = false) -> (status: Int32, output: String)? {
        run(command: [Repository.path(relative)] + arguments, mergeStandardError: mergeStandardError)
    }

    /// stdout of `python3 -c script arguments...`; throws with stderr when the script fails.
    @discardableResult
    public static func output(_ script: String, _ arguments: [String] = []) throws -> String {
        let interpreter = command
        let result = try Processes.run(interpreter[0], Array(interpreter.dropFirst()) + ["-c", script] + arguments)
        guard result.status == 0 else { throw Failure(message: result.stderr) }
        return result.stdout
    }

    /// A script that exited non-zero, with what it wrote to stderr.
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    private static func run(command arguments: [String], mergeStandardError: Bool) -> (status: Int32, output: String)? {
        let interpreter = command
        guard let result = try? Processes.run(interpreter[0], Array(interpreter.dropFirst()) + arguments) else { return nil }
        return (result.status, mergeStandardError ? result.stdout + result.stderr : result.stdout)
    }

    private static let cache = ModuleCache()

    /// Whether python3 imports every module named (checked once per set).
    public static func has(_ modules: [String]) -> Bool {
        cache.lookup(modules.sorted().joined(separator: ",")) {
            run("import " + modules.joined(separator: ", "))?.status == 0
        }
    }

    public static func has(_ modules: String...) -> Bool { has(modules) }
}

private final class ModuleCache: @unchecked Sendable {
    private var known: [String: Bool] = [:]
    private let lock = NSLock()
    func lookup(_ key: String, _ compute: () -> Bool) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if let value = known[key] { return value }
        let value = compute()
        known[key] = value
        return value
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only when python3 imports every module named; otherwise it is skipped
    /// with a comment saying which modules were missing.
    public static func requiresPython(_ modules: String...) -> Self {
        .enabled(if: Python.has(modules), "needs python3 with \(modules.joined(separator: ", "))")
    }

    /// Runs the test only when the debug `loft` binary has been built.
    public static var requiresBinary: Self {
        .enabled(if: Repository.binary != nil, "needs .build/debug/loft (swift build)")
    }
}
