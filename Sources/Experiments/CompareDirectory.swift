// A comparison's directory under the output policy. DIR/compare.json records the shared
// settings; a directory holding one with the same settings is continued without
// --overwrite (finished runs are kept, the rest run), one with other settings is refused
// unless --overwrite, which starts every run of the grid over. Any other non-empty
// directory follows the policy as every command does (OutputTarget).

import Glibc
import TensorIO

public struct CompareError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

extension CompareExperiment {
    var settingsPath: String { SystemPath.join(directory, "compare.json") }

    /// Checks DIR before any run; returns whether an earlier comparison is being continued.
    /// With `overwrite` the grid's earlier results are removed, so every run is trained again.
    @discardableResult
    public func openDirectory(overwrite: Bool) throws -> Bool {
        let inputs = [settings.base, settings.data, settings.evalData, settings.tokenizer].compactMap { $0 }
        let recorded = PathStatus.isRegularFile(settingsPath) ? try? JSONFile.read(settingsPath) : nil
        var continuing = false
        if let recorded, !overwrite {
            if let difference = CompareExperiment.firstDifference(recorded, settings.json) {
                throw CompareError(description: "\(directory): holds a comparison with other settings (\(difference)); "
                                   + "pass --overwrite to start it over, or choose another --out")
            }
            continuing = true
        }
        let target = try OutputTarget(directory, kind: .directory, overwrite: overwrite || continuing, inputs: inputs)
        try target.prepare()
        if overwrite {
            startOver = true
            for run in runs where PathStatus.isRegularFile(resultPath(run)) {
                guard unlink(SystemPath.cString(resultPath(run))) == 0 else {
                    throw FileError.writeFailed(path: resultPath(run), reason: "cannot remove it: " + String(cString: strerror(errno)))
                }
            }
        }
        try AtomicOutputFile.write(JSON.serialize(settings.json, style: .indented) + "\n", to: settingsPath)
        return continuing
    }

    /// The first shared setting that differs, as `key: recorded -> given`.
    static func firstDifference(_ recorded: JSONValue, _ given: JSONValue) -> String? {
        guard let members = given.objectMembers else { return nil }
        for member in members where recorded[member.key] != member.value {
            let old = recorded[member.key].map { JSON.serialize($0) } ?? "absent"
            return "\(member.key): \(old) -> \(JSON.serialize(member.value))"
        }
        return nil
    }
}
