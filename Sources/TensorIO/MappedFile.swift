// A read-only memory mapping of a whole file that unmaps itself. Tensors read from a
// safetensors file are views into it; they hold the MappedFile as their owner.
//
// The file descriptor stays open for the mapping's lifetime: a writer copying a view
// unchanged asks the kernel to copy from it (AtomicOutputFile.write(_:from:)), which never
// touches the mapping's pages.

import Glibc

public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    /// The open file (read-only) the mapping was made from; closed in deinit.
    public let descriptor: Int32

    public init(path: String) throws {
        self.path = path
        let fd = open(SystemPath.cString(path), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let reason = systemErrorMessage()
            close(fd)
            throw FileError.cannotOpen(path: path, reason: reason)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError.notARegularFile(path: path)
        }
        let size = Int(status.st_size)
        descriptor = fd
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            let reason = systemErrorMessage()
            close(fd)
            throw FileError.cannotOpen(path: path, reason: "mmap failed: \(reason)")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    public var count: Int { bytes.count }

    /// Where `view` starts in the file, when all of it lies inside this mapping.
    public func offset(of view: UnsafeRawBufferPointer) -> Int? {
        guard let start = view.baseAddress, let base = bytes.baseAddress, start >= base else { return nil }
        let offset = start - base
        guard offset <= bytes.count, view.count <= bytes.count - offset else { return nil }
        return offset
    }

    /// Tells the kernel we read this range front to back (larger read-ahead).
    public func adviseSequential(offset: Int, count: Int) { advise(offset: offset, count: count, MADV_SEQUENTIAL) }

    /// Drops the pages of a range from this process's resident set; they stay in the page cache.
    public func release(offset: Int, count: Int) { advise(offset: offset, count: count, MADV_DONTNEED) }

    private func advise(offset: Int, count: Int, _ advice: Int32) {
        guard let base = bytes.baseAddress, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = min(bytes.count, offset + count)
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, advice)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
        close(descriptor)
    }
}

func systemErrorMessage() -> String { String(cString: strerror(errno)) }
