// An output file that appears at its path only when complete.
//
// Bytes go to a temporary file beside the target (same directory, so the final rename is
// atomic on one file system). `commit()` renames it over the target; if the writer throws or
// the object is dropped without commit, the temporary file is removed and whatever was at
// the target before is untouched.

import Glibc

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

    /// Off only in tests, to check that the kernel copy and write() produce the same file.
    nonisolated(unsafe) static var kernelCopyEnabled = true

    /// Appends `bytes`, which `owner` keeps alive. When they are a view of a file mapping (a
    /// tensor passed through unchanged), the kernel copies them from that file instead of
    /// write() from the mapping: no page faults on the mapping, no copy through user space,
    /// and the mapping's pages never become part of this process's resident set. This is the
    /// one place that decides; every writer sends tensor data through it.
    public func write(_ bytes: UnsafeRawBufferPointer, from owner: AnyObject?) throws {
        var rest = bytes
        if AtomicOutputFile.kernelCopyEnabled, let file = owner as? MappedFile, let start = file.offset(of: bytes), bytes.count > 0 {
            let copied = try copy(from: file.descriptor, offset: start, count: bytes.count)
            rest = UnsafeRawBufferPointer(rebasing: bytes[copied...])
        }
        if rest.count > 0 { try write(rest) }
    }

    /// Appends `count` bytes of the file `fd` from `offset` with copy_file_range(2) (fd's own
    /// position is not used or moved). Returns how many bytes were copied: fewer than `count`
    /// when the kernel cannot copy between these files (EXDEV, ENOSYS, EINVAL, EOPNOTSUPP) or
    /// the source ends early; the caller writes the rest itself. Other errors throw.
    public func copy(from fd: Int32, offset: Int, count: Int) throws -> Int {
        var done = 0
        var position = off_t(offset)
        while done < count {
            guard let copyFileRange = AtomicOutputFile.copyFileRange else { break }
            let n = copyFileRange(fd, &position, self.fd, nil, count - done, 0)
            if n < 0 {
                switch errno {
                case EINTR: continue
                case EXDEV, ENOSYS, EINVAL, EOPNOTSUPP: break
                default: throw FileError.writeFailed(path: path, reason: "copy_file_range: \(systemErrorMessage())")
                }
                break
            }
            if n == 0 { break }
            done += n
        }
        self.offset += done
        return done
    }

    /// glibc declares copy_file_range only under _GNU_SOURCE, which Swift's Glibc module does
    /// not set: looked up by name (glibc 2.27 and later have it; nil means write() always).
    private typealias CopyFileRange = @convention(c) (Int32, UnsafeMutablePointer<off_t>?, Int32, UnsafeMutablePointer<off_t>?, Int, UInt32) -> Int
    private static let copyFileRange: CopyFileRange? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: CopyFileRange.self)
    }()

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
