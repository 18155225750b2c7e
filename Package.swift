// swift-tools-version:6.0
import PackageDescription

// Data flows one way: ModelFormats -> Tokenizers -> Transformer -> Probe -> RunStore -> Reports -> Selection;
// Probe computes a sample, RunStore keeps it, Reports show tables, Selection compares runs (head
// selection, transfer, ensembles, verification). Pipeline runs a whole probe (dataset -> run file ->
// head tables) as a library call; the qkprobe command only parses arguments and prints.
// Statistics (intervals, tests, permutation nulls) knows no model or file: Reports and Selection use it.
// LogicTasks (datasets, templates) knows no model: the one-token option check takes a tokenize function.
let package = Package(
    name: "qkprobe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "qkprobe", targets: ["qkprobe"]),
        .library(name: "QKProbe", targets: ["ModelFormats", "Tokenizers", "Transformer", "LogicTasks", "Probe", "RunStore", "Statistics", "Reports", "Selection", "Causal", "Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),

        // Element-wise loops compiled per instruction set, picked at load by the CPU (C: Swift has
        // no per-function target attribute).
        .target(name: "VectorKernels"),
        .target(name: "ModelFormats", dependencies: ["VectorKernels", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Tokenizers", dependencies: ["ModelFormats"]),
        .target(name: "Transformer", dependencies: ["ModelFormats", "VectorKernels", "CBLAS"]),
        .target(name: "LogicTasks"),
        .target(name: "Statistics"),
        .target(name: "Probe", dependencies: ["Tokenizers", "Transformer", "LogicTasks"]),
        .target(name: "RunStore", dependencies: ["CHDF5", "Probe"]),
        .target(name: "Reports", dependencies: ["Probe", "RunStore", "Statistics", "LogicTasks"]),
        .target(name: "Selection", dependencies: ["ModelFormats", "Probe", "RunStore", "Reports", "LogicTasks", "Statistics"]),
        // Switching heads off (ablation) and scoring heads by their attention (scans).
        .target(name: "Causal", dependencies: ["Tokenizers", "Transformer", "Probe", "LogicTasks", "RunStore", "Statistics"]),
        .target(name: "Pipeline", dependencies: ["ModelFormats", "Tokenizers", "Transformer", "LogicTasks", "Probe", "RunStore", "Reports"]),
        .executableTarget(
            name: "qkprobe",
            dependencies: [
                "ModelFormats", "Tokenizers", "Transformer", "LogicTasks", "Probe", "RunStore", "Statistics", "Reports", "Selection", "Causal", "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // GGUF files built field by field, for the tests of malformed files.
        .target(name: "GGUFTestSupport", dependencies: ["ModelFormats"], path: "Tests/GGUFTestSupport"),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "GGUFTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer", "VectorKernels", "GGUFTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LogicTasksTests", dependencies: ["LogicTasks"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StatisticsTests", dependencies: ["Statistics", "LogicTasks"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RunStoreTests", dependencies: ["RunStore"]),
        .testTarget(name: "ProbeTests", dependencies: ["Probe", "ModelFormats"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "RunStore", "Statistics"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "RunStore", "Probe", "LogicTasks", "ModelFormats"]),
        .testTarget(name: "SelectionTests", dependencies: ["Selection", "RunStore", "Reports", "Probe", "LogicTasks"]),
        .testTarget(name: "CausalTests", dependencies: ["Causal", "Probe", "Transformer", "ModelFormats", "RunStore", "Statistics"], resources: [.copy("Fixtures")]),
        // Runs the built `qkprobe` binary as a user would.
        .testTarget(name: "CLITests", dependencies: ["qkprobe", "ModelFormats", "Transformer", "LogicTasks", "RunStore", "Reports", "Selection", "Pipeline"],
                    exclude: ["Fixtures"]),
    ]
)
