// Whether an output would land on an input: be it, contain it, or lie inside it. Compared two
// ways, so neither a symlink, a hard link, `.` from inside, `..` nor a bind mount slips
// through: by resolved absolute path (realpath, then the part that does not exist yet as
// text), and by device and inode of the output against each input and its parent
// directories, and of the input against the output's.

enum InputOverlap {
    static func check(output: String, inputs: [String]) throws {
        guard let outputPath = SystemPath.absolute(output) else { return }
        let outputStatus = PathStatus(output)
        let outputAncestors = statuses(upFrom: outputPath)
        for input in inputs where !input.isEmpty {
            guard let inputPath = SystemPath.absolute(input) else { continue }
            let inputStatus = PathStatus(input)
            func refuse(_ relation: OutputError.Relation) -> OutputError {
                .overlapsInput(path: output, input: input, relation: relation)
            }
            if outputPath == inputPath { throw refuse(.isInput) }
            if let outputStatus, let inputStatus, outputStatus.isSame(as: inputStatus) { throw refuse(.isInput) }
            if outputPath == "/" || inputPath.hasPrefix(outputPath + "/") { throw refuse(.containsInput) }
            if inputPath == "/" || outputPath.hasPrefix(inputPath + "/") { throw refuse(.insideInput) }
            if let outputStatus, statuses(upFrom: SystemPath.parent(inputPath)).contains(where: { $0.isSame(as: outputStatus) }) {
                throw refuse(.containsInput)
            }
            if let inputStatus, inputStatus.isDirectory, outputAncestors.contains(where: { $0.isSame(as: inputStatus) }) {
                throw refuse(.insideInput)
            }
        }
    }

    /// The directories from `path` (absolute, resolved) up to the root that exist.
    private static func statuses(upFrom path: String) -> [PathStatus] {
        var result: [PathStatus] = []
        var current = path
        while true {
            if let status = PathStatus(current), status.isDirectory { result.append(status) }
            let up = SystemPath.parent(current)
            if up == current { return result }
            current = up
        }
    }
}
