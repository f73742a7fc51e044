// swift-tools-version:6.0
import PackageDescription

// Layers, bottom to top; a target imports only targets from the lines above it:
//
//   CZlib CJSONC CBLAS    system libraries (module map + one-line shim each)
//   CKernels              C kernels for instruction sets picked at run time (AVX-512 BF16 product, F16C)
//   Compute               parallel loops, BLAS, bf16 products, Matrix, Cholesky, seeded RNG, low-rank pair
//   TensorIO              dtypes, safetensors, npy/npz/zip, conversion, diff, output policy
//   Plots                 SVG line plots
//   LoFT                  AdamW, LoRA-AdamW, LoFT-AdamW, clipping, optimizer-state files
//   Models                layers (forward + backward), model families, tokenizers
//   Adapters              PEFT / MLX / loft adapters: reading, merging; whole-model merges (mergekit YAML)
//   Training              data, schedules, the training loop, evaluation, generation
//   Experiments           the factorization experiment, step benchmarks
//   LoftCLI -> loft       one file per command; `loft` is main only
//   Benchmarks            `loft-bench`: timings of the hot paths, outside the tests
let package = Package(
    name: "loft",
    products: [
        .executable(name: "loft", targets: ["loft"]),
        .executable(name: "loft-bench", targets: ["Benchmarks"]),
        .library(name: "TensorIO", targets: ["TensorIO"]),
    ],
    dependencies: [
        // The command line: one ParsableCommand per command, help text on the properties.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // mergekit's merge configurations are YAML (`loft merge --config`).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        .target(name: "CKernels"),
        .target(name: "Compute", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "TensorIO", dependencies: ["Compute", "CZlib", "CJSONC"]),
        .target(name: "Plots"),
        .target(name: "LoFT", dependencies: ["Compute", "TensorIO"]),
        .target(name: "Models", dependencies: ["Compute", "TensorIO"]),
        .target(name: "Adapters", dependencies: ["Compute", "TensorIO", .product(name: "Yams", package: "Yams")]),
        .target(name: "Training", dependencies: ["Compute", "TensorIO", "Plots", "LoFT", "Models", "Adapters"]),
        .target(name: "Experiments", dependencies: ["Compute", "TensorIO", "Plots", "LoFT", "Models", "Training"]),
        .target(
            name: "LoftCLI",
            dependencies: [
                "Compute", "TensorIO", "Plots", "LoFT", "Models", "Adapters", "Training", "Experiments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "loft", dependencies: ["Compute", "LoftCLI"]),
        // loft-only timings of the hot paths (conversion, model step, layers, tokenizer).
        .executableTarget(
            name: "Benchmarks",
            dependencies: [
                "CBLAS", "Compute", "TensorIO", "Models", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Scratch directories, the Python peers (and the traits that skip without them), the
        // repository's paths: shared by every test target.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ComputeTests", dependencies: ["Compute", "TestSupport"]),
        .testTarget(name: "TensorIOTests", dependencies: ["TensorIO", "Compute", "TestSupport"]),
        .testTarget(name: "LoFTTests", dependencies: ["LoFT", "Compute", "TensorIO", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Compute", "TensorIO", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Models", "LoFT", "TensorIO", "Compute", "TestSupport"]),
        .testTarget(name: "AdaptersTests", dependencies: ["Adapters", "TensorIO", "Compute", "Models", "Training", "TestSupport"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Plots", "LoFT", "Compute", "TensorIO", "TestSupport"]),
        .testTarget(name: "LoftCLITests", dependencies: ["LoftCLI", "TensorIO", "Experiments", "TestSupport"]),
    ],
    // Swift 5 mode: the hot loops hand unsafe buffers to worker threads, which the Swift 6
    // checker cannot see are disjoint.
    swiftLanguageModes: [.v5]
)
