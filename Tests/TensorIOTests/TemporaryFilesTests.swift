// The signal handler's cleanup list: an AtomicOutputFile's temporary file is registered
// while uncommitted (so SIGINT/SIGTERM remove it via TemporaryFiles.removeAll()), and
// unregistered once committed or dropped. removeAll() itself is not called here: tests run
// in parallel in one process and it would unlink other tests' temporary files.

import Foundation
import Testing
@testable import TensorIO

@Suite struct TemporaryFilesTests {
    @Test func uncommittedTemporariesAreRegisteredUntilCommitOrDrop() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loft-tmpfiles-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let done = try AtomicOutputFile(path: directory + "/done.npy")
        try done.write([4])
        #expect(TemporaryFiles.registeredPaths().contains(done.temporaryPath))
        try done.commit()
        #expect(!TemporaryFiles.registeredPaths().contains(done.temporaryPath))

        var dropped: AtomicOutputFile? = try AtomicOutputFile(path: directory + "/dropped.safetensors")
        let temporary = dropped!.temporaryPath
        #expect(TemporaryFiles.registeredPaths().contains(temporary))
        dropped = nil
        #expect(!TemporaryFiles.registeredPaths().contains(temporary))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["done.npy"])
    }
}
