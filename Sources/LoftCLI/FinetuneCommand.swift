import ArgumentParser

// Placeholder until the command lands.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "finetune", abstract: "Fine-tune a model from files with LoFT, LoRA or AdamW. (not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("loft finetune is not built yet") }
}
