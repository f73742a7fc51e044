// The readers' malformed corpora through the commands: every rejected file gives exit
// status 1 and a message naming it (never a crash), and convert leaves nothing behind.

import Foundation
import Testing
import TensorIO

@Suite struct MalformedInputTests {
    @Test func safetensorsCorpus() throws {
        let verdicts = try ReferenceFixtures.load("safetensors/malformed/expected.json").objectMembers ?? []
        #expect(verdicts.count > 50)
        let scratch = ScratchDirectory()
        for verdict in verdicts {
            let path = ReferenceFixtures.path("safetensors/malformed/\(verdict.key)")
            let accepted = verdict.value["loft"]?.stringValue == "ok"
            let inspect = loft("inspect", "--stats", path)
            let convert = loft("convert", path, scratch.file("out.npz"))
            if accepted {
                #expect(inspect.status == 0, "\(verdict.key): \(inspect.stderr)")
            } else {
                #expect(inspect.status == 1, "\(verdict.key)")
                #expect(inspect.stderr.contains(verdict.key), "\(verdict.key): \(inspect.stderr)")
                #expect(convert.status == 1, "\(verdict.key)")
            }
            try? FileManager.default.removeItem(atPath: scratch.file("out.npz"))
            #expect(scratch.contents().isEmpty, "\(verdict.key)")
        }
    }

    @Test func numpyCorpus() throws {
        let verdicts = try ReferenceFixtures.load("numpy/malformed.json").objectMembers ?? []
        #expect(verdicts.count > 30)
        let scratch = ScratchDirectory()
        for verdict in verdicts {
            let path = ReferenceFixtures.path("numpy/malformed/\(verdict.key)")
            // Some problems (a bad CRC, short data) show only when the data is read: --stats reads it.
            let inspect = loft("inspect", "--stats", path)
            #expect(inspect.status == 1, "\(verdict.key): \(inspect.stdout)")
            #expect(inspect.stderr.contains(verdict.key), "\(verdict.key): \(inspect.stderr)")
            let convert = loft("convert", path, scratch.file("out.safetensors"))
            #expect(convert.status == 1, "\(verdict.key)")
            #expect(scratch.contents().isEmpty, "\(verdict.key): left \(scratch.contents())")
        }
    }
}
