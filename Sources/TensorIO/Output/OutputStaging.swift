// A directory output assembled beside its target (`.NAME.tmp-XXXXXX`) and moved into place
// when complete: the part of the output policy (OutputTarget.swift) for convert and merge.
// A failed or interrupted command leaves nothing at the target and nothing beside it.
//
// Commit: a target that did not exist becomes the staging directory, renamed (with the
// mode a new directory gets, not mkdtemp's 0700). An existing target (empty, or with
// `overwrite`) keeps its other files and its mode: each staged file is renamed over its
// name there; then `staleNames` are removed, files of an earlier output of the same kind
// that would contradict the new one (a shard index the new checkpoint does not have).

import Glibc

public final class OutputStaging {
    public let target: OutputTarget
    /// The staging directory.
    public let path: String
    private var registration: Int?
    /// Directories made for the target's parent: removed with the staging directory unless committed.
    private var madeParents: [String] = []
    private var parentRegistrations: [Int?] = []
    private var committed = false

    init(target: OutputTarget) throws {
        self.target = target
        let parent = SystemPath.parent(target.path)
        let made = PathStatus.isDirectory(parent) ? [] : try OutputTarget.makeDirectories(parent)
        let registrations = made.map { TemporaryFiles.register($0, directory: true) }
        var template = SystemPath.cString(SystemPath.join(parent, ".\(SystemPath.lastComponent(target.path)).tmp-XXXXXX"))
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            let reason = systemErrorMessage()
            registrations.forEach(TemporaryFiles.unregister)
            OutputStaging.removeDirectories(made)
            throw FileError.writeFailed(path: target.path, reason: "cannot create a temporary directory beside it: \(reason)")
        }
        madeParents = made
        parentRegistrations = registrations
        path = SystemPath.decode(template.dropLast().map { UInt8(bitPattern: $0) })
        registration = TemporaryFiles.register(path, directory: true)
    }

    /// Where to write `name` (a file directly inside the directory).
    public func file(_ name: String) -> String { SystemPath.join(path, name) }

    /// Moves the staged files into the target. `staleNames(name)` says whether a file already
    /// in the target is of the kind this output writes, and is removed when not rewritten.
    /// Returns the names moved in.
    @discardableResult
    public func commit(staleNames: (String) -> Bool = { _ in false }) throws -> [String] {
        precondition(!committed)
        pauseForTestIfAsked()
        let names = SystemPath.list(path) ?? []
        if !target.exists {
            chmod(SystemPath.cString(path), 0o777 & ~AtomicOutputFile.creationMask)
            guard rename(SystemPath.cString(path), SystemPath.cString(target.path)) == 0 else {
                throw FileError.writeFailed(path: target.path, reason: "rename failed: \(systemErrorMessage())")
            }
        } else {
            for name in names {
                guard rename(SystemPath.cString(file(name)), SystemPath.cString(target.file(name))) == 0 else {
                    throw FileError.writeFailed(path: target.file(name), reason: "rename failed: \(systemErrorMessage())")
                }
            }
            let written = Set(names)
            for name in SystemPath.list(target.path) ?? [] where !written.contains(name) && staleNames(name) {
                unlink(SystemPath.cString(target.file(name)))
            }
            rmdir(SystemPath.cString(path))
        }
        committed = true
        TemporaryFiles.unregisterAll(under: path)
        TemporaryFiles.unregister(registration)
        parentRegistrations.forEach(TemporaryFiles.unregister)
        return names.sorted()
    }

    deinit {
        guard !committed else { return }
        for name in SystemPath.list(path) ?? [] { unlink(SystemPath.cString(file(name))) }
        rmdir(SystemPath.cString(path))
        TemporaryFiles.unregisterAll(under: path)
        TemporaryFiles.unregister(registration)
        parentRegistrations.forEach(TemporaryFiles.unregister)
        OutputStaging.removeDirectories(madeParents)
    }

    /// Removes directories this output made (innermost first), if they are still empty.
    private static func removeDirectories(_ made: [String]) {
        for directory in made.reversed() { rmdir(SystemPath.cString(directory)) }
    }
}
