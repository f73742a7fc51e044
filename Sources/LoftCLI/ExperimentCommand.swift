import ArgumentParser

// Placeholder until the command lands.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "experiment", abstract: "Run the LoFT paper's experiments. (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft experiment is not built yet") }
}
