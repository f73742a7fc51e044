// `mkdir -p` for the commands' output directories, with the POSIX reason in the error
// (Foundation's createDirectory reports an NSError dump such as
// "Error Domain=NSCocoaErrorDomain Code=642 ... The volume is read only.").

import Glibc

public enum OutputDirectory {
    public static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0 {
                let code = errno
                var status = stat()
                if code == EEXIST, stat(prefix, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR { continue }
                let reason = code == EEXIST ? "\(prefix.dropLast()) exists and is not a directory" : String(cString: strerror(code))
                throw FileError.writeFailed(path: path, reason: "cannot create the directory: \(reason)")
            }
        }
    }
}
