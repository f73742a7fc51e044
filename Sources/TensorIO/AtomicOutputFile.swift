// An output file that appears at its path only when complete.
//
// Bytes go to a temporary file beside the target (same directory, so the final rename is
// atomic on one file system). `commit()` renames it over the target; if the writer throws or
// the object is dropped without commit, the temporary file is removed and whatever was at
// the target before is untouched.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class AtomicOutputFile {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var committed = false
    /// Where the temporary path is registered for removal by a signal handler.
    private var registration: Int?
    /// Bytes written so far (the offset of the next write).
    public private(set) var offset: Int = 0

    public init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(base).tmp-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw FileError.writeFailed(path: path, reason: "cannot create a temporary file in \(directory): \(systemErrorMessage())")
        }
        fd = descriptor
        temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        registration = TemporaryFiles.register(temporaryPath)
        fchmod(fd, 0o644)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.writeFailed(path: path, reason: systemErrorMessage())
            }
            done += n
        }
        offset += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Overwrites bytes already written (zip local headers patched after the data).
    public func write(_ bytes: [UInt8], at position: Int) throws {
        precondition(position + bytes.count <= offset)
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(position + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError.writeFailed(path: path, reason: systemErrorMessage())
                }
                done += n
            }
        }
    }

    /// Closes the temporary file and renames it over the target.
    public func commit() throws {
        precondition(!committed)
        guard close(fd) == 0 else {
            fd = -1
            throw FileError.writeFailed(path: path, reason: systemErrorMessage())
        }
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            throw FileError.writeFailed(path: path, reason: "rename failed: \(systemErrorMessage())")
        }
        committed = true
        TemporaryFiles.unregister(registration)
        registration = nil
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
        TemporaryFiles.unregister(registration)
    }
}
