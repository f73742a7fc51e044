import ArgumentParser

// Placeholder until the command lands.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate a model (and adapter) on a token file. (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft eval is not built yet") }
}
