import ArgumentParser

// Placeholder until the command lands.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert", abstract: "Convert between safetensors, .npy and .npz, change dtypes, re-shard. (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft convert is not built yet") }
}
