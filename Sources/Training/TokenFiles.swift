// Token streams from files: a token file (.npy of uint16/int32/int64, any shape, read in C
// order; or a raw little-endian uint16 .bin without header, as nanoGPT writes them) or a text
// file tokenized with the model directory's tokenizer. Every id is checked against the
// model's vocabulary before training starts.

import Foundation
import Models
import TensorIO

public enum TokenFile {
    /// Token files by extension; anything else is read as UTF-8 text.
    public static func isTokenFile(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".npy") || lower.hasSuffix(".bin")
    }

    /// The ids of a .npy or raw uint16 .bin file, as stored (not yet checked against a vocabulary).
    public static func read(path: String) throws -> [Int64] {
        if path.lowercased().hasSuffix(".bin") {
            let file = try MappedFile(path: path)
            return try withExtendedLifetime(file) {
                let bytes = file.bytes
                guard bytes.count % 2 == 0 else {
                    throw TrainingError.cannotRead(path: path, reason: "a raw uint16 token file has an even number of bytes, this one has \(bytes.count)")
                }
                var ids = [Int64](repeating: 0, count: bytes.count / 2)
                for i in 0..<ids.count {
                    let low = UInt16(bytes[2 * i]), high = UInt16(bytes[2 * i + 1])
                    ids[i] = Int64(low | (high << 8))
                }
                return ids
            }
        }
        let reader = try NpyReader(path: path)
        let info = reader.tensors[0]
        let data = try reader.data(for: info.name)
        switch info.dtype {
        case .U16: return data.withElements(as: UInt16.self) { $0.map { Int64(UInt16(littleEndian: $0)) } }
        case .I32: return data.withElements(as: Int32.self) { $0.map { Int64(Int32(littleEndian: $0)) } }
        case .I64: return data.withElements(as: Int64.self) { $0.map { Int64(littleEndian: $0) } }
        default: throw TrainingError.wrongTokenDType(path: path, dtype: info.dtype.rawValue)
        }
    }

    /// The ids checked against `vocabularySize` (0 ≤ id < vocabularySize).
    public static func checked(_ ids: [Int64], path: String, vocabularySize: Int) throws -> [Int32] {
        if let index = ids.firstIndex(where: { $0 < 0 || $0 >= Int64(vocabularySize) }) {
            throw TrainingError.tokenOutOfVocabulary(path: path, index: index, id: ids[index], vocabularySize: vocabularySize)
        }
        return ids.map { Int32($0) }
    }

    /// Tokens for training or evaluation: a token file as stored, or a text file encoded with
    /// `tokenizer` (called only for text; it may throw when there is none). No special tokens
    /// are added.
    public static func tokens(path: String, vocabularySize: Int, tokenizer: () throws -> TextTokenizer) throws -> [Int32] {
        if isTokenFile(path) {
            return try checked(read(path: path), path: path, vocabularySize: vocabularySize)
        }
        let data = try textFile(path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw TrainingError.cannotRead(path: path, reason: "not UTF-8 text (token files end in .npy or .bin)")
        }
        let encoder: TextTokenizer
        do { encoder = try tokenizer() } catch let TrainingError.noTokenizer(_, reason) {
            throw TrainingError.noTokenizer(path: path, reason: reason)
        }
        let ids = encoder.encode(text)
        return try checked(ids.map(Int64.init), path: path, vocabularySize: vocabularySize)
    }

    /// A data file's bytes, refused with what it is when it is not a non-empty regular file
    /// (`/dev/null` is a character device, not a missing file).
    static func textFile(_ path: String) throws -> Data {
        guard let status = PathStatus(path) else {
            throw TrainingError.cannotRead(path: path, reason: "no such file")
        }
        guard !status.isDirectory else { throw TrainingError.cannotRead(path: path, reason: "a directory, not a data file") }
        guard status.isRegularFile else {
            throw TrainingError.cannotRead(path: path, reason: "not a regular file (a device, pipe or socket)")
        }
        let data: Data
        do {
            let file = try MappedFile(path: path)
            data = withExtendedLifetime(file) { Data(file.bytes) }
        } catch let FileError.cannotOpen(_, reason) {
            throw TrainingError.cannotRead(path: path, reason: "not readable: \(reason)")
        }
        guard !data.isEmpty else { throw TrainingError.cannotRead(path: path, reason: "an empty file") }
        return data
    }

    /// The tokenizer of a model directory (or of the directory holding a model file).
    public static func tokenizer(modelPath: String) throws -> TextTokenizer {
        let directory = PathStatus.isDirectory(modelPath) ? modelPath : SystemPath.parent(modelPath)
        do {
            // A GGUF model carries its tokenizer.
            if GGUFModelReader.isGGUF(modelPath) { return try TokenizerLoader.load(gguf: modelPath) }
            return try TokenizerLoader.load(modelDirectory: directory)
        } catch let error as TokenizerError {
            throw TrainingError.noTokenizer(path: modelPath, reason: error.description)
        }
    }
}
