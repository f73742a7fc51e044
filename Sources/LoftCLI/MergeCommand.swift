import ArgumentParser

// Placeholder until the command lands.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge", abstract: "Fold low-rank adapters into base weights. (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft merge is not built yet") }
}
