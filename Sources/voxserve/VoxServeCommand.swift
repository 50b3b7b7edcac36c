import ArgumentParser
import Foundation
import Logging
import VoxRuntime

@main
struct VoxServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voxserve",
        abstract: "Self-hosted text-to-speech: Piper voices and voice cloning on ONNX Runtime.",
        subcommands: [ServeCommand.self, SpeakCommand.self, VoicesCommand.self, DoctorCommand.self, BenchCommand.self, WorkerCommand.self]
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

    /// The environment's configuration with these flags applied: the optimizer is on unless
    /// --no-optimize or VOXSERVE_OPTIMIZE=0.
    func configuration(warmUp: Bool) -> RuntimeConfiguration {
        var configuration = VoxServeCommand.environmentConfiguration()
        configuration.optimize = configuration.optimize && !noOptimize
        configuration.warmUp = warmUp
        return configuration
    }
}
