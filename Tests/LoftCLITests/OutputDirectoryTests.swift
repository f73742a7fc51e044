// An output directory that cannot be created is reported before any work, with the path
// and the POSIX reason (not Foundation's NSError text).

import Foundation
import Testing

@Suite struct OutputDirectoryTests {
    @Test func experimentChecksItsOutputFirst() throws {
        let scratch = ScratchDirectory()
        _ = FileManager.default.createFile(atPath: scratch.file("file"), contents: Data("x".utf8))
        let out = scratch.file("file/run")
        let result = loft("experiment", "factorization", "--m", "16", "--n", "16", "--rank", "2", "--target-rank", "2",
                          "--steps", "2", "--out", out)
        #expect(result.status == 1)
        #expect(result.stderr.contains(out), "\(result.stderr)")
        #expect(result.stderr.contains("exists and is not a directory"), "\(result.stderr)")
        #expect(!result.stderr.contains("NSCocoaErrorDomain"))
        #expect(!result.stdout.contains("running"), "the runs started before the check: \(result.stdout)")
    }
}
