// An output file that appears at its path only when complete (the byte-level half of the
// output policy, OutputTarget.swift).
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
        let directory = SystemPath.parent(path)
        let base = SystemPath.lastComponent(path)
        var template = SystemPath.cString(SystemPath.join(directory, ".\(base).tmp-XXXXXX"))
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw FileError.writeFailed(path: path, reason: "cannot create a temporary file in \(directory): \(systemErrorMessage())")
        }
        fd = descriptor
        temporaryPath = SystemPath.decode(template.dropLast().map { UInt8(bitPattern: $0) })
        registration = TemporaryFiles.register(temporaryPath)
        fchmod(fd, 0o666 & ~AtomicOutputFile.creationMask)
    }

    /// The process's umask (read once: umask(2) can only be read by setting it).
    static let creationMask: mode_t = {
        let mask = umask(0o022)
        umask(mask)
        return mask
    }()

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

    /// Closes the temporary file and renames it over the target. Inside a staging directory
    /// (OutputStaging) the finished file stays registered for removal on a signal: it is
    /// part of an output that is not complete yet.
    public func commit() throws {
        precondition(!committed)
        guard close(fd) == 0 else {
            fd = -1
            throw FileError.writeFailed(path: path, reason: systemErrorMessage())
        }
        fd = -1
        let staged = TemporaryFiles.isStagingDirectory(SystemPath.parent(path))
        let finalRegistration = staged ? TemporaryFiles.register(path) : nil
        guard rename(SystemPath.cString(temporaryPath), SystemPath.cString(path)) == 0 else {
            let reason = systemErrorMessage()
            TemporaryFiles.unregister(finalRegistration)
            throw FileError.writeFailed(path: path, reason: "rename failed: \(reason)")
        }
        committed = true
        TemporaryFiles.unregister(registration)
        registration = nil
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(SystemPath.cString(temporaryPath)) }
        TemporaryFiles.unregister(registration)
    }
}

extension AtomicOutputFile {
    /// Writes `text` to `path` (replacing it atomically).
    public static func write(_ text: String, to path: String) throws {
        let file = try AtomicOutputFile(path: path)
        try file.write(Array(text.utf8))
        try file.commit()
    }

    /// Copies the file at `source` to `path` (the kernel copies when it can).
    public static func copy(from source: String, to path: String) throws {
        let input = try MappedFile(path: source)
        let file = try AtomicOutputFile(path: path)
        try file.write(input.bytes, from: input)
        try file.commit()
    }
}
