import ArgumentParser

// Placeholder until the command lands.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate text from a model (and adapter). (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft generate is not built yet") }
}
