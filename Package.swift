// swift-tools-version:6.0
import PackageDescription

// Layers, bottom to top; each target imports only those listed before it.
//   system libraries -> TensorIO, LinearAlgebra -> LoFT -> Models -> Training
//   TensorIO, LinearAlgebra -> Adapters;  everything -> LoftCLI -> loft
let package = Package(
    name: "loft",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "loft", targets: ["loft"]),
        .library(name: "TensorIO", targets: ["TensorIO"]),
    ],
    dependencies: [
        // The command line: one ParsableCommand per command, help text on the properties.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        .target(name: "TensorIO", dependencies: ["CZlib", "CJSONC"], swiftSettings: optimized),
        .target(name: "LinearAlgebra", dependencies: ["CBLAS"], swiftSettings: optimized),
        .target(name: "LoFT", dependencies: ["LinearAlgebra", "TensorIO"], swiftSettings: optimized),
        .target(name: "Models", dependencies: ["CBLAS", "LinearAlgebra", "TensorIO", "LoFT"], swiftSettings: optimized),
        .target(name: "Training", dependencies: ["Models", "LoFT", "LinearAlgebra", "TensorIO"], swiftSettings: optimized),
        .target(name: "Adapters", dependencies: ["CBLAS", "TensorIO", "LinearAlgebra"], swiftSettings: optimized),
        .target(
            name: "LoftCLI",
            dependencies: [
                "TensorIO", "LinearAlgebra", "LoFT", "Models", "Training", "Adapters",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimized),
        .executableTarget(name: "loft", dependencies: ["LoftCLI"]),

        .testTarget(name: "TensorIOTests", dependencies: ["TensorIO"], resources: []),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(name: "LoFTTests", dependencies: ["LoFT", "LinearAlgebra", "TensorIO"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "LinearAlgebra", "TensorIO"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Models", "LoFT", "TensorIO"]),
        .testTarget(name: "AdaptersTests", dependencies: ["Adapters", "TensorIO", "LinearAlgebra", "Models", "Training"]),
        .testTarget(name: "LoftCLITests", dependencies: ["LoftCLI", "TensorIO"]),
    ],
    // Swift 5 mode: the hot loops hand unsafe buffers to worker threads, which the Swift 6
    // checker cannot see are disjoint.
    swiftLanguageModes: [.v5]
)

// Bounds checks stay on (a reader must never trust a file), but whole-module optimisation
// and no exclusivity checking in the hot loops.
var optimized: [SwiftSetting] { [.unsafeFlags(["-enforce-exclusivity=unchecked"])] }
