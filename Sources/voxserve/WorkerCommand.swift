import ArgumentParser
import Foundation
import Logging
import VoxRuntime

/// `voxserve worker`: started by `voxserve serve --isolation process`, never by hand. Speaks the
/// framed protocol described in `WorkerWire` on stdin/stdout and logs to stderr.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Internal: a synthesis worker process for `serve --isolation process`.",
        shouldDisplay: false
    )

    @OptionGroup var engine: EngineOptions

    func run() async throws {
        let frames = WorkerHost.claimStandardOutput()
        VoxServeCommand.bootstrapLogging(verbose: engine.verbose)
        var logger = Logger(label: "voxserve.worker")
        logger[metadataKey: "vox.worker.pid"] = "\(ProcessInfo.processInfo.processIdentifier)"
        let service = EngineSpeechService(configuration: engine.configuration(warmUp: true), warmUpOnStart: false, logger: logger)
        try await service.warmUp()
        try await WorkerHost(service: service, outputFD: frames, logger: logger).run(plan: await service.status().plan)
    }
}
