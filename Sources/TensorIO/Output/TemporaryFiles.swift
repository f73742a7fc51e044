// The temporaries an output is being built in, so a signal handler can remove them: a Ctrl-C
// (or SIGTERM, SIGHUP) during a long convert or merge would otherwise leave a
// `.NAME.tmp-XXXXXX` file of gigabytes, or a staging directory, beside the target, since
// deinit never runs.
//
// Entries are temporary files (AtomicOutputFile), staging directories (OutputStaging) and
// the finished files inside a staging directory (they are still temporary until the
// directory is committed). Paths live in a fixed table of C strings holding the exact path
// bytes. Registration takes a lock; `removeAll()` is called from a signal handler, so it
// only reads the table and calls unlink and rmdir (both async-signal-safe), files first.
// Directories the output made on the way (`out/` for `--out out/merged`) are entries too.

import Glibc

public enum TemporaryFiles {
    private static let capacity = 1024
    nonisolated(unsafe) private static let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
    nonisolated(unsafe) private static let isDirectory = UnsafeMutablePointer<Bool>.allocate(capacity: capacity)
    nonisolated(unsafe) private static var lock: pthread_mutex_t = {
        var mutex = pthread_mutex_t()
        pthread_mutex_init(&mutex, nil)
        slots.initialize(repeating: nil, count: capacity)
        isDirectory.initialize(repeating: false, count: capacity)
        return mutex
    }()

    /// Remembers a temporary path; returns its slot (nil when the table is full: that entry
    /// is then only removed by the normal failure path).
    static func register(_ path: String, directory: Bool = false) -> Int? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for index in 0..<capacity where slots[index] == nil {
            isDirectory[index] = directory
            slots[index] = SystemPath.cString(path).withUnsafeBufferPointer { strdup($0.baseAddress!) }
            return index
        }
        return nil
    }

    static func unregister(_ slot: Int?) {
        guard let slot else { return }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let path = slots[slot]
        slots[slot] = nil
        free(path)
    }

    /// Forgets every entry inside `directory` (a staging directory committed or removed).
    static func unregisterAll(under directory: String) {
        let prefix = SystemPath.bytes(directory) + [UInt8(ascii: "/")]
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for index in 0..<capacity {
            guard let entry = slots[index], strlen(entry) > prefix.count,
                  prefix.withUnsafeBufferPointer({ memcmp($0.baseAddress!, entry, prefix.count) == 0 }) else { continue }
            slots[index] = nil
            free(entry)
        }
    }

    /// Whether `path` is a registered staging directory (files committed into it stay
    /// temporary until it is committed).
    static func isStagingDirectory(_ path: String) -> Bool {
        let bytes = SystemPath.bytes(path)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (0..<capacity).contains { index in
            guard isDirectory[index], let entry = slots[index] else { return false }
            return bytes.count == strlen(entry) && bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, entry, bytes.count) == 0 }
        }
    }

    /// The registered paths (what `removeAll()` would remove).
    static func registeredPaths() -> Set<String> {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return Set((0..<capacity).compactMap { index in
            slots[index].map { SystemPath.decode(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0))) }
        })
    }

    /// Removes every registered file, then every registered directory (emptied by then).
    /// Async-signal-safe: for signal handlers.
    public static func removeAll() {
        for index in 0..<capacity where !isDirectory[index] {
            if let path = slots[index] { unlink(path) }
        }
        // A directory made for the output holds the staging directory: passes until none goes.
        var removed = true
        while removed {
            removed = false
            for index in 0..<capacity where isDirectory[index] {
                if let path = slots[index], rmdir(path) == 0 { removed = true }
            }
        }
    }
}
