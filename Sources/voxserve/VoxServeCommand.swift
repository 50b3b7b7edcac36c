import ArgumentParser
import Foundation
import Logging
import VoxCore
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

    @Option(
        name: .customLong("voice-alias"),
        help: ArgumentHelp(
            "NAME=VOICE: a name that stands for an installed voice, such as nova=en_US-amy-medium (repeatable; also VOXSERVE_VOICE_ALIASES=\"nova=a,onyx=b\"). OpenAI's voice names stand for the default voice unless changed.",
            valueName: "name=voice"))
    var voiceAliases: [String] = []

    func validate() throws {
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
        return configuration
    }
}
