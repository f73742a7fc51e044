import ArgumentParser

// Placeholder until the command lands.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show the tensors, dtypes, shapes and metadata of a tensor file. (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft inspect is not built yet") }
}
