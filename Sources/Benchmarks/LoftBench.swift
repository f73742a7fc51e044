// `loft-bench`: measurements that used to hide in the test targets as opt-in tests. Each
// subcommand prints what it measured; none checks anything. Build it in release:
//   swift build -c release --product loft-bench
//   .build/release/loft-bench conversion --mib 256
// `make bench` (scripts/bench.sh) runs loft against its Python peers; these are loft-only
// measurements of the hot paths, for docs/dtypes.md and docs/models.md.

import ArgumentParser
import Compute

@main
struct LoftBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loft-bench",
        abstract: "Time loft's hot paths (release build; prints measurements, checks nothing).",
        discussion: """
            Examples:
              loft-bench conversion --mib 256
              loft-bench model-step --shape 124M
              loft-bench layers
              loft-bench training-step
              loft-bench generation
              loft-bench tokenizer --fixtures fixtures/tokenizers
              loft-bench bf16-gemm
            """,
        subcommands: [ConversionBench.self, ModelStepBench.self, LayerBench.self, TrainingStepBench.self,
                      GenerationBench.self, TokenizerBench.self, BF16GemmBench.self])

    /// As `loft` runs: OpenBLAS's idle workers sleep soon (Compute/BLASThreads.swift).
    static func main() {
        BLASThreads.shortenSpin()
        main(nil)
    }
}
