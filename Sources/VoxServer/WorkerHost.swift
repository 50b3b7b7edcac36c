import Foundation
import Logging
import VoxCore
#if canImport(Glibc)
import Glibc
#endif

/// The loop of a `voxserve worker` process: reads `speak` frames from stdin, runs them through
/// `service` one at a time, and writes the audio back as frames on stdout (see `WorkerWire`).
public struct WorkerHost: Sendable {
    let service: any SpeechService
    let input: FileDescriptorIO
    let output: FileDescriptorIO
    let logger: Logger

    /// Takes over the process's standard output for frames: anything else that prints to
    /// stdout afterwards (a library's stray message) goes to stderr instead of corrupting them.
    public static func claimStandardOutput() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let frames = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        return frames
    }

    public init(service: any SpeechService, inputFD: Int32 = STDIN_FILENO, outputFD: Int32, logger: Logger) {
        self.service = service
        self.input = FileDescriptorIO(fd: inputFD)
        self.output = FileDescriptorIO(fd: outputFD)
        self.logger = logger
    }

    /// Announces readiness, then serves until stdin closes or a `shutdown` frame arrives.
    public func run(plan: String) async throws {
        var ready = WorkerWire.Message(.ready)
        ready.pid = getpid()
        ready.plan = plan
        try await send(.init(ready))
        let input = self.input
        while true {
            guard let frame = try await offload({ try WorkerWire.decode(read: input.read) }) else { return }
            switch frame.message.type {
            case .shutdown:
                return
            case .speak:
                guard let id = frame.message.id, let request = frame.message.request else {
                    logger.error("speak frame without id or request; ignored")
                    continue
                }
                try await speak(id: id, request.synthesisRequest)
            default:
                logger.error("unexpected frame from the server; ignored", metadata: ["vox.frame": "\(frame.message.type.rawValue)"])
            }
        }
    }

    private func speak(id: UInt64, _ request: SynthesisRequest) async throws {
        var startedSent = false
        do {
            let speech = try await service.speak(request, streaming: true)
            var started = WorkerWire.Message(.started, id: id)
            started.voice = speech.voice
            started.sampleRate = speech.sampleRate
            started.plan = speech.plan
            started.cache = speech.cache
            started.warm = speech.warm
            try await send(.init(started))
            startedSent = true
            for try await chunk in speech.chunks {
                var message = WorkerWire.Message(.chunk, id: id)
                message.index = chunk.index
                message.isLast = chunk.isLast
                message.sampleRate = chunk.audio.sampleRate
                try await send(.init(message, payload: WorkerWire.payload(chunk.audio.samples)))
            }
            try await send(.init(.init(.done, id: id)))
        } catch let error as WorkerWire.ProtocolError {
            throw error  // the server is gone
        } catch {
            let vox = error as? VoxError ?? VoxError.engineFailure("The worker failed: \(error)")
            var failed = WorkerWire.Message(.failed, id: id)
            failed.errorKind = vox.kind.rawValue
            failed.message = vox.message
            logger.debug("request failed in worker", metadata: ["vox.error": "\(vox.message)", "vox.started": "\(startedSent)"])
            try await send(.init(failed))
        }
    }

    private func send(_ frame: WorkerWire.Frame) async throws {
        let data = try WorkerWire.encode(frame)
        let output = self.output
        try await offload { try output.write(data) }
    }
}
