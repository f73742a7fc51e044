// The malformed-input corpus (fixtures/numpy/malformed, listed in malformed.json): one file
// per reader rule, each refused with its own error case. For .npz files the error may come
// when the archive is opened or when a tensor's data is read (CRC, zip bomb), so every
// tensor is read.

import Testing
@testable import TensorIO

@Suite struct NpyMalformedTests {
    static var cases: [String] { NumPyFixtures.malformed.map { "\($0.file) -> \($0.error)" } }

    @Test(arguments: cases)
    func refusedWithItsOwnError(testCase: String) {
        let parts = testCase.components(separatedBy: " -> ")
        let (file, expected) = (parts[0], parts[1])
        let path = NumPyFixtures.path("malformed/\(file)")
        do {
            let reader: TensorReader = file.hasSuffix(".npy") ? try NpyReader(path: path) : try NpzReader(path: path)
            for info in reader.tensors { _ = try reader.data(for: info.name) }
            Issue.record("\(file) was accepted; expected \(expected)")
        } catch {
            #expect(errorCaseName(error) == expected, "\(file): \(error)")
            #expect(String(describing: error).contains(path), "the message names the file: \(error)")
        }
    }
}
