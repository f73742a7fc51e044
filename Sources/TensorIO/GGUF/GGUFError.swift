// What is wrong with a GGUF file, or with a conversion to or from one (a missing config key,
// an architecture llama.cpp does not know), one line each, prefixed with the path.

public struct GGUFError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String

    public init(path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
