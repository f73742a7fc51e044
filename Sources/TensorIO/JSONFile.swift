// A JSON file read whole (config.json, trainer.json, an index): every failure names the file,
// since "unexpected end of JSON" alone does not say which of a model's files is broken.

public enum JSONFile {
    public static func read(_ path: String) throws -> JSONValue {
        let file = try MappedFile(path: path)
        do {
            return try withExtendedLifetime(file) { try JSON.parse(file.bytes) }
        } catch let error as JSONError {
            throw FileError.invalidJSON(path: path, reason: file.count == 0 ? "empty file" : error.message)
        }
    }
}
