import ArgumentParser
import Foundation
import Logging
import VoxCore
import VoxONNX
import VoxRuntime

@main
struct VoxServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voxserve",
        abstract: "Self-hosted text-to-speech: Piper voices and voice cloning on ONNX Runtime.",
        subcommands: [ServeCommand.self, SpeakCommand.self, VoicesCommand.self, DoctorCommand.self, BenchCommand.self, WorkerCommand.self, ChatterboxBenchRunCommand.self]
    )

    /// The process's configuration: the environment, read here once for every command.
    static func environmentConfiguration() -> RuntimeConfiguration {
        RuntimeConfiguration.fromEnvironment(ProcessInfo.processInfo.environment)
    }

    static func bootstrapLogging(verbose: Bool) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .warning
            return handler
        }
    }
}

/// Options every command that synthesizes shares.
struct EngineOptions: ParsableArguments {
    @Flag(name: .customLong("no-optimize"), help: "Bypass the optimizer (plain engine, default ONNX Runtime settings). Same as VOXSERVE_OPTIMIZE=0.")
    var noOptimize = false

    @Flag(name: .shortAndLong, help: "Log what the engine and optimizer do.")
    var verbose = false

    @Option(
        name: .customLong("voice-alias"),
        help: ArgumentHelp(
            "NAME=VOICE: a name that stands for an installed voice, such as nova=en_US-amy-medium (repeatable; also VOXSERVE_VOICE_ALIASES=\"nova=a,onyx=b\"). OpenAI's voice names stand for the default voice unless changed.",
            valueName: "name=voice"))
    var voiceAliases: [String] = []

    @Option(help: "Run engines on this provider only: cpu or cuda (default: planned, for Piper measured at warm-up; also VOXSERVE_PROVIDER). Forcing cuda where CUDA cannot run is an error.")
    var provider: ExecutionProvider?

    @Option(help: "Use this precision variant wherever a graph ships it: fp32, fp16, bf16, int8, q4, q4f16 (default: planned).")
    var precision: ModelPrecision?

    @Option(
        name: .customLong("gpu-memory-limit"),
        help: ArgumentHelp("The most GPU memory VoxServe may use, all engines and worker processes together: 6G, 512M (default: what is free; also VOXSERVE_GPU_MEMORY_LIMIT).", valueName: "size"))
    var gpuMemoryLimit: String?

    @Option(
        name: .customLong("max-batch"),
        help: ArgumentHelp("Most Chatterbox sentences decoding together in one language-model step (default: planned from memory and cores, see doctor; also VOXSERVE_MAX_BATCH). 1 turns batching off.", valueName: "n"))
    var maxBatch: Int?

    /// Internal: how many engines share the GPU budget (`serve --isolation process` passes its workers).
    @Option(name: .customLong("gpu-engines"), help: .hidden)
    var gpuEngines: Int?

    func validate() throws {
        if let gpuMemoryLimit, RuntimeConfiguration.parseByteSize(gpuMemoryLimit) == nil {
            throw ValidationError("--gpu-memory-limit must be a size such as 6G or 512M (got '\(gpuMemoryLimit)').")
        }
        let env = ProcessInfo.processInfo.environment
        if let value = env["VOXSERVE_GPU_MEMORY_LIMIT"], RuntimeConfiguration.parseByteSize(value) == nil {
            throw ValidationError("VOXSERVE_GPU_MEMORY_LIMIT must be a size such as 6G or 512M (got '\(value)').")
        }
        if let value = env["VOXSERVE_PROVIDER"], ExecutionProvider(rawValue: value.lowercased()) == nil {
            throw ValidationError("VOXSERVE_PROVIDER must be cpu or cuda (got '\(value)').")
        }
        if let gpuEngines, gpuEngines < 1 { throw ValidationError("--gpu-engines must be at least 1.") }
        if let maxBatch, !(1...1024).contains(maxBatch) { throw ValidationError("--max-batch must be 1…1024 (1 turns batching off).") }
        if let value = env["VOXSERVE_MAX_BATCH"], !(Int(value).map { (1...1024).contains($0) } ?? false) {
            throw ValidationError("VOXSERVE_MAX_BATCH must be a number 1…1024 (got '\(value)').")
        }
        do {
            _ = try RuntimeConfiguration.environmentAliases(ProcessInfo.processInfo.environment)
        } catch let error as VoxError {
            throw ValidationError("VOXSERVE_VOICE_ALIASES: \(error.message)")
        }
        do {
            _ = try VoiceRegistry.parseAliases(voiceAliases)
        } catch let error as VoxError {
            throw ValidationError("--voice-alias: \(error.message)")
        }
    }

    /// The environment's configuration with these flags applied: the optimizer is on unless
    /// --no-optimize or VOXSERVE_OPTIMIZE=0.
    func configuration(warmUp: Bool) -> RuntimeConfiguration {
        var configuration = VoxServeCommand.environmentConfiguration()
        configuration.optimize = configuration.optimize && !noOptimize
        configuration.warmUp = warmUp
        configuration.voiceAliases.merge((try? VoiceRegistry.parseAliases(voiceAliases)) ?? [:]) { $1 }
        if let provider { configuration.overrides.provider = provider }
        if let precision { configuration.overrides.precision = precision }
        if let limit = gpuMemoryLimit.flatMap(RuntimeConfiguration.parseByteSize) { configuration.overrides.gpuMemoryLimitBytes = limit }
        if let gpuEngines { configuration.overrides.enginesSharingGPU = gpuEngines }
        if let maxBatch { configuration.overrides.maxBatch = maxBatch }
        return configuration
    }

    /// These options as a worker process's arguments, the engine count included (`optimize`: the
    /// server's, environment included).
    func workerArguments(engines: Int, optimize: Bool) -> [String] {
        var arguments = (optimize ? [] : ["--no-optimize"]) + (verbose ? ["--verbose"] : [])
        arguments += voiceAliases.flatMap { ["--voice-alias", $0] }
        if let provider { arguments += ["--provider", provider.rawValue] }
        if let precision { arguments += ["--precision", precision.rawValue] }
        if let gpuMemoryLimit { arguments += ["--gpu-memory-limit", gpuMemoryLimit] }
        if let maxBatch { arguments += ["--max-batch", String(maxBatch)] }
        arguments += ["--gpu-engines", String(engines)]
        return arguments
    }
}

extension ModelPrecision: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(rawValue: argument.lowercased())
    }
}

extension ExecutionProvider: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(rawValue: argument.lowercased())
    }
}
