// Paths as the kernel sees them: byte strings. A Swift String cannot hold bytes that are not
// UTF-8 (argv decoding turns them into U+FFFD, so `dir\xff/out` would name another
// directory). loft maps every such byte to one code point of its own, U+10FF80 + (byte -
// 0x80), and back, so a String round-trips any byte path exactly:
//
//   decode(bytes)  valid UTF-8 stays as it is; each byte of an invalid sequence (or of a
//                  real U+10FF80...U+10FFFF, so that the mapping stays one-to-one) becomes
//                  its escape code point;
//   cString(path)  the exact bytes again, NUL-terminated, for open, stat, mkdir, rename...
//
// Every call that hands a path to the kernel goes through `cString` (or the helpers below);
// `display` shows the escapes as `\xFF` in messages.

import Glibc

public enum SystemPath {
    private static let escapeBase: UInt32 = 0x10FF00

    /// The String for a path's bytes (see above).
    public static func decode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < input.count {
            if let (scalar, length) = utf8Scalar(input, at: i), scalar.value < escapeBase + 0x80 {
                scalars.append(scalar)
                i += length
            } else {
                scalars.append(Unicode.Scalar(escapeBase + UInt32(input[i]))!)
                i += 1
            }
        }
        return String(scalars)
    }

    /// The bytes `decode` was given.
    public static func bytes(_ path: String) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(path.utf8.count)
        for scalar in path.unicodeScalars {
            if scalar.value >= escapeBase + 0x80 {
                result.append(UInt8(scalar.value - escapeBase))
            } else {
                result.append(contentsOf: String(scalar).utf8)
            }
        }
        return result
    }

    /// The exact bytes, NUL-terminated: pass where C wants a `const char *` path.
    public static func cString(_ path: String) -> [CChar] {
        if !path.unicodeScalars.contains(where: { $0.value >= escapeBase + 0x80 }) { return Array(path.utf8CString) }
        return bytes(path).map { CChar(bitPattern: $0) } + [0]
    }

    /// A path (or a message holding one) for people: escaped bytes shown as `\xFF`.
    public static func display(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value >= escapeBase + 0x80 }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value >= escapeBase + 0x80 {
                let byte = String(scalar.value - escapeBase, radix: 16, uppercase: true)
                result += "\\x" + byte
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The process's arguments (without argv[0]), byte paths intact.
    public static func arguments() -> [String] {
        (1..<Int(CommandLine.argc)).map { index in
            guard let pointer = CommandLine.unsafeArgv[index] else { return "" }
            return decode(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
        }
    }

    /// One well-formed UTF-8 scalar at `i` (no overlongs, surrogates or values past U+10FFFF).
    private static func utf8Scalar(_ bytes: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[i]
        if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
        let length: Int
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07)
        default: return nil
        }
        guard i + length <= bytes.count else { return nil }
        for k in 1..<length {
            let byte = bytes[i + k]
            guard byte & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        let minimum: UInt32 = length == 3 ? 0x800 : length == 4 ? 0x10000 : 0x80
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}

/// What is at a path (stat(2), following symbolic links), with the path's exact bytes.
public struct PathStatus {
    public let mode: mode_t
    public let device: UInt64
    public let inode: UInt64
    public let size: Int

    /// nil when nothing is there (or it cannot be stat'ed).
    public init?(_ path: String) {
        var status = stat()
        guard stat(SystemPath.cString(path), &status) == 0 else { return nil }
        mode = status.st_mode
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int(status.st_size)
    }

    public var isDirectory: Bool { (mode & S_IFMT) == S_IFDIR }
    public var isRegularFile: Bool { (mode & S_IFMT) == S_IFREG }
    /// Same file or directory (device and inode).
    public func isSame(as other: PathStatus) -> Bool { device == other.device && inode == other.inode }

    public static func isDirectory(_ path: String) -> Bool { PathStatus(path)?.isDirectory ?? false }
    public static func isRegularFile(_ path: String) -> Bool { PathStatus(path)?.isRegularFile ?? false }
    public static func exists(_ path: String) -> Bool { PathStatus(path) != nil }
}

extension SystemPath {
    /// The names in a directory (without "." and ".."), byte names intact; nil if it cannot be read.
    public static func list(_ directory: String) -> [String]? {
        guard let handle = opendir(cString(directory)) else { return nil }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { decode($0.prefix { $0 != 0 }) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// realpath(3) on the exact bytes; nil when the path does not resolve.
    public static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(cString(path), nil) else { return nil }
        defer { free(pointer) }
        return decode(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
    }

    /// The last component ("a/b/" -> "b").
    public static func lastComponent(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// The directory holding `path` ("a/b" -> "a", "b" -> ".", "/b" -> "/").
    public static func parent(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// An absolute path with symbolic links resolved as far as the path exists, and the
    /// rest ("." and ".." included) applied to it as text. nil if no part resolves.
    public static func absolute(_ path: String) -> String? {
        if let whole = resolved(path) { return whole }
        var existing = path
        var rest: [String] = []
        while true {
            if let base = resolved(existing) {
                var components = base.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
                for part in rest.reversed() {
                    if part == "." || part.isEmpty { continue }
                    if part == ".." { if !components.isEmpty { components.removeLast() } } else { components.append(part) }
                }
                return "/" + components.joined(separator: "/")
            }
            let name = lastComponent(existing)
            let up = parent(existing)
            if up == existing { return nil }
            rest.append(name)
            existing = up
        }
    }
}
