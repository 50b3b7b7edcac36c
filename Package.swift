// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "VoxServe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "voxserve", targets: ["voxserve"]),
        .library(name: "VoxCore", targets: ["VoxCore"]),
        .library(name: "VoxEngines", targets: ["VoxEngines"]),
        .library(name: "VoxOptimizer", targets: ["VoxOptimizer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C at the edge. ONNX Runtime is loaded with dlopen (so a GPU build can be chosen at run time);
        // only its headers come through pkg-config (written by scripts/setup.sh).
        .systemLibrary(name: "CONNXRuntime", pkgConfig: "onnxruntime"),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CAudioIO", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev", "libsoxr-dev"])]),

        .target(name: "VoxCore"),
        .target(name: "VoxAudio", dependencies: ["VoxCore", "CAudioIO"]),
        .target(name: "VoxONNX", dependencies: ["VoxCore", "CONNXRuntime"], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "VoxPhonemizer", dependencies: ["VoxCore", "CEspeakNG"]),
        .target(
            name: "VoxEngines",
            dependencies: ["VoxCore", "VoxAudio", "VoxONNX", "VoxPhonemizer", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "VoxOptimizer",
            dependencies: [
                "VoxCore", "VoxONNX",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "voxserve",
            dependencies: [
                "VoxCore", "VoxAudio", "VoxEngines", "VoxOptimizer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "VoxCoreTests", dependencies: ["VoxCore"]),
        .testTarget(name: "VoxAudioTests", dependencies: ["VoxCore", "VoxAudio"]),
        .testTarget(name: "VoxONNXTests", dependencies: ["VoxCore", "VoxONNX"]),
        .testTarget(name: "VoxPhonemizerTests", dependencies: ["VoxCore", "VoxPhonemizer"]),
        .testTarget(name: "VoxEnginesTests", dependencies: ["VoxCore", "VoxAudio", "VoxONNX", "VoxEngines"]),
        .testTarget(name: "VoxOptimizerTests", dependencies: ["VoxCore", "VoxONNX", "VoxOptimizer"]),
        .testTarget(name: "VoxServeCLITests", dependencies: ["VoxCore"]),
    ],
    swiftLanguageModes: [.v6]
)
