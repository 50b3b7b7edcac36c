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
        .library(name: "VoxRuntime", targets: ["VoxRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C at the edge. ONNX Runtime is loaded with dlopen (so a GPU build can be chosen at run time);
        // only its headers come through pkg-config (written by scripts/setup.sh).
        .systemLibrary(name: "CONNXRuntime", pkgConfig: "onnxruntime"),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CAudioIO", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev", "libsoxr-dev", "librubberband-dev"])]),
        // FFmpeg's encoders and muxers, for streamed MP3/Opus/Vorbis/FLAC and for AAC.
        .systemLibrary(name: "CLibAV", pkgConfig: "libavformat", providers: [.apt(["libavformat-dev", "libavcodec-dev"])]),

        .target(name: "VoxCore"),
        .target(name: "VoxAudio", dependencies: ["VoxCore", "CAudioIO", "CLibAV"]),
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
        // The composition root: configuration, engine assembly from a plan, the voice registry,
        // the conditioning store, the speech service (in process or in a worker), the doctor report.
        .target(
            name: "VoxRuntime",
            dependencies: [
                "VoxCore", "VoxAudio", "VoxONNX", "VoxPhonemizer", "VoxEngines", "VoxOptimizer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A fleet's shared tier: the voice library and the conditioning cache in PostgreSQL
        // (`serve --store postgres://…`), mirrored into each replica.
        .target(
            name: "VoxFleet",
            dependencies: [
                "VoxCore", "VoxOptimizer", "VoxRuntime",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The server: the HTTP application (routes, middleware, queue, metrics, worker supervision)
        // and the Wyoming protocol beside it, sharing the queue, metrics and speech service.
        .target(
            name: "VoxServer",
            dependencies: [
                "VoxCore", "VoxAudio", "VoxEngines", "VoxRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")]
        ),
        // Only `serve` needs VoxServer; the other commands build on VoxRuntime.
        .executableTarget(
            name: "voxserve",
            dependencies: [
                "VoxCore", "VoxAudio", "VoxONNX", "VoxPhonemizer", "VoxEngines", "VoxOptimizer", "VoxRuntime", "VoxServer", "VoxFleet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "VoxCoreTests", dependencies: ["VoxCore"]),
        .testTarget(name: "VoxAudioTests", dependencies: ["VoxCore", "VoxAudio"]),
        .testTarget(name: "VoxONNXTests", dependencies: ["VoxCore", "VoxONNX"]),
        .testTarget(name: "VoxPhonemizerTests", dependencies: ["VoxCore", "VoxPhonemizer"]),
        .testTarget(name: "VoxEnginesTests", dependencies: ["VoxCore", "VoxAudio", "VoxONNX", "VoxPhonemizer", "VoxEngines"]),
        .testTarget(name: "VoxOptimizerTests", dependencies: ["VoxCore", "VoxONNX", "VoxOptimizer"]),
        .testTarget(name: "VoxRuntimeTests", dependencies: ["VoxCore", "VoxAudio", "VoxEngines", "VoxOptimizer", "VoxRuntime"]),
        .testTarget(
            name: "VoxServerTests",
            dependencies: [
                "VoxCore", "VoxAudio", "VoxEngines", "VoxOptimizer", "VoxRuntime", "VoxServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "VoxServeCLITests", dependencies: ["VoxCore", "VoxAudio"]),
        .testTarget(name: "VoxFleetTests", dependencies: ["VoxCore", "VoxFleet"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets for `make fuzz`, declared only when VOXSERVE_FUZZ=1: libFuzzer supplies their
// `main`, so an ordinary build or `make test` never sees them. Sources in Fuzz/NAME/.
if Context.environment["VOXSERVE_FUZZ"] == "1" {
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzAudioDecoder", ["VoxCore", "VoxAudio"]),
        ("FuzzMultipart", ["VoxServer"]),
        ("FuzzSpeechRequest", ["VoxCore", "VoxServer"]),
        ("FuzzPiperConfig", ["VoxCore", "VoxAudio", "VoxEngines"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(.executableTarget(name: name, dependencies: dependencies, path: "Fuzz/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
