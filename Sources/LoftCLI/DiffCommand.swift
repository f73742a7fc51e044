import ArgumentParser

// Placeholder until the command lands.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Compare two checkpoints tensor by tensor. (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft diff is not built yet") }
}
