// The output policy, one type for every command that writes (convert, merge, finetune,
// experiment): where an output may go, and how it gets there.
//
// Checked when the target is made, before any work:
//   - the path is not empty, and its parent directories are directories;
//   - the output is not an input, does not contain one, and does not lie inside one
//     (InputOverlap: by resolved path and by device + inode);
//   - a file target that exists is replaced only with `overwrite`; a directory there is refused;
//   - a directory target that exists and holds anything is written into only with
//     `overwrite`, and then only the files the command writes are replaced: other files
//     stay, and the directory keeps its mode.
// Written:
//   - a file: into `.NAME.tmp-XXXXXX` beside it, renamed over the target when complete
//     (AtomicOutputFile);
//   - a directory, all at once (convert, merge): assembled in a staging directory
//     `.NAME.tmp-XXXXXX` beside it (OutputStaging), whose files are moved in when every one
//     is complete; a new directory is the staging directory renamed;
//   - a directory that fills as the command runs (finetune's log and checkpoint, rewritten
//     after each evaluation so an interrupted run can be resumed): `prepare()` creates it,
//     each file is replaced atomically.
// Temporaries are registered (TemporaryFiles), so SIGINT/SIGTERM/SIGHUP remove them.
//
// Paths are byte strings (SystemPath): a name that is not UTF-8 is written exactly as given.

import Glibc

public final class OutputTarget {
    public enum Kind: Sendable { case file, directory }

    public let path: String
    public let kind: Kind
    public let overwrite: Bool

    /// Checks the policy (see above); throws OutputError naming the path and the problem.
    public init(_ path: String, kind: Kind, overwrite: Bool = false, inputs: [String] = []) throws {
        guard !path.isEmpty else { throw OutputError.emptyPath }
        self.path = path
        self.kind = kind
        self.overwrite = overwrite
        try checkParents()
        try InputOverlap.check(output: path, inputs: inputs)
        try checkExisting()
    }

    /// Whether something is at the path now.
    public var exists: Bool { PathStatus(path) != nil }

    private func checkExisting() throws {
        guard let status = PathStatus(path) else {
            // A dangling symbolic link: replaced like a file, so only when asked.
            var link = stat()
            if lstat(SystemPath.cString(path), &link) == 0 {
                if kind == .directory { throw OutputError.notADirectory(path: path, blocking: path) }
                if !overwrite { throw OutputError.fileExists(path: path) }
            }
            return
        }
        switch kind {
        case .file:
            if status.isDirectory { throw OutputError.isADirectory(path: path) }
            if !overwrite { throw OutputError.fileExists(path: path) }
        case .directory:
            guard status.isDirectory else { throw OutputError.notADirectory(path: path, blocking: path) }
            if !overwrite, let names = SystemPath.list(path), !names.isEmpty { throw OutputError.directoryNotEmpty(path: path) }
        }
    }

    /// A file target needs its directory; a directory target's missing parents are made,
    /// but whatever exists on the way must be a directory.
    private func checkParents() throws {
        var current = SystemPath.parent(path)
        var missing: String?
        while true {
            if let status = PathStatus(current) {
                guard status.isDirectory else { throw OutputError.notADirectory(path: path, blocking: current) }
                break
            }
            missing = current
            let up = SystemPath.parent(current)
            if up == current { break }
            current = up
        }
        if kind == .file, let missing { throw OutputError.missingDirectory(path: path, directory: missing) }
    }

    /// The path of `name` inside a directory target.
    public func file(_ name: String) -> String { SystemPath.join(path, name) }

    /// For a directory that fills as the command runs: creates it (and its parents).
    public func prepare() throws {
        precondition(kind == .directory)
        try OutputTarget.makeDirectories(path)
    }

    /// A staging directory for a directory target, committed with `OutputStaging.commit()`.
    public func stage() throws -> OutputStaging {
        precondition(kind == .directory)
        return try OutputStaging(target: self)
    }

    /// `mkdir -p`, with the POSIX reason in the error. Returns the directories it made, outermost first.
    @discardableResult
    public static func makeDirectories(_ path: String) throws -> [String] {
        var made: [String] = []
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(SystemPath.cString(prefix), 0o777) == 0 {
                made.append(String(prefix.dropLast()))
                continue
            }
            let code = errno
            if code == EEXIST, PathStatus.isDirectory(prefix) { continue }
            let reason = code == EEXIST ? "\(prefix.dropLast()) exists and is not a directory" : String(cString: strerror(code))
            throw FileError.writeFailed(path: path, reason: "cannot create the directory: \(reason)")
        }
        return made
    }
}

/// Test hook: with LOFT_TEST_PAUSE_AT_COMMIT=FILE set, a staging directory's commit creates
/// FILE and waits (up to a minute), so a test can signal a command whose output is complete
/// but not yet moved into place.
func pauseForTestIfAsked() {
    guard let marker = getenv("LOFT_TEST_PAUSE_AT_COMMIT") else { return }
    let fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd >= 0 { close(fd) }
    for _ in 0..<600 { usleep(100_000) }
}
