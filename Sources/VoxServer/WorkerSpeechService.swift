import Foundation
import Logging
import ServiceLifecycle
import VoxCore
import VoxRuntime

/// `--isolation process`: synthesis runs in `voxserve worker` subprocesses, so an engine that
/// crashes takes down one worker, not the server. Voice listing and uploads stay in this process
/// (`local`), and `local` also synthesizes when no worker could be started.
///
/// A worker that dies during a request is replaced; the request is sent again once, to the next
/// worker, if none of its audio has reached the client yet (always the case with
/// `streaming == false`, which holds the audio back until the utterance is complete). Otherwise
/// it fails with a 503 that says so.
public final class WorkerSpeechService: SpeechService {
    let local: any SpeechService
    let pool: WorkerPool
    let logger: Logger
    private let ids = Locked<UInt64>(0)

    /// - Parameters:
    ///   - local: answers voice queries and uploads, and synthesizes when workers cannot start.
    ///   - executable: the `voxserve` binary to run as `executable worker <arguments>`.
    ///   - environment: the workers' environment (nil: this process's), which decides their
    ///     voices, caches and models: give them the server's.
    public init(
        local: any SpeechService, workers: Int, executable: URL, arguments: [String], environment: [String: String]? = nil,
        startTimeout: Duration = .seconds(60), logger: Logger
    ) {
        self.local = local
        self.pool = WorkerPool(
            size: workers, executable: executable, arguments: arguments, environment: environment, startTimeout: startTimeout, logger: logger)
        self.logger = logger
    }

    /// The executable this process was started from (argv[0] resolved, or /proc/self/exe).
    public static func currentExecutable() -> URL {
        let arg0 = CommandLine.arguments.first ?? ""
        if arg0.hasPrefix("/") { return URL(fileURLWithPath: arg0).resolvingSymlinksInPath() }
        if arg0.contains("/") {
            return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(arg0).standardizedFileURL.resolvingSymlinksInPath()
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where !arg0.isEmpty {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(arg0)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.resolvingSymlinksInPath() }
        }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    }

    public var lifecycleServices: [any Service] { local.lifecycleServices + [WorkerSupervisor(pool: pool)] }

    public func speak(_ request: SynthesisRequest, streaming: Bool) async throws -> SpeechStream {
        if case .failed = await pool.startedPhase() {
            return try await local.speak(request, streaming: streaming)
        }
        let id = ids.withLock { $0 += 1; return $0 }
        let (worker, started, retried) = try await begin(id: id, request: request, retried: false)
        let pool = self.pool
        let logger = self.logger
        let chunks = AsyncThrowingStream<AudioChunk, any Error> { continuation in
            let relay = Task {
                await Self.relay(
                    id: id, request: request, streaming: streaming, worker: worker, retried: retried, pool: pool,
                    logger: logger, service: self, continuation: continuation)
            }
            continuation.onTermination = { termination in
                if case .cancelled = termination { relay.cancel() }
            }
        }
        return SpeechStream(
            voice: started.voice ?? request.voice ?? "", sampleRate: started.sampleRate ?? 0, plan: started.plan ?? "",
            warm: started.warm ?? true, chunks: chunks)
    }

    /// Sends the request to a worker and waits for `started`; a worker that dies first is
    /// replaced and the request sent once more.
    private func begin(id: UInt64, request: SynthesisRequest, retried: Bool) async throws -> (WorkerProcess, WorkerWire.Message, Bool) {
        var retried = retried
        while true {
            let worker = try await pool.checkout()
            var speak = WorkerWire.Message(.speak, id: id)
            speak.request = WorkerWire.Request(request)
            let event: WorkerProcess.Event
            do {
                try await worker.send(.init(speak))
                event = await worker.nextEventKillingOnCancel()
            } catch {
                event = .exited(reason: "\(error)")
            }
            switch event {
            case .frame(let frame) where frame.message.type == .started && frame.message.id == id:
                return (worker, frame.message, retried)
            case .frame(let frame) where frame.message.type == .failed && frame.message.id == id:
                await pool.checkin(worker)
                throw Self.error(from: frame.message)
            case .frame(let frame):
                worker.kill()
                await pool.workerDied(worker, reason: "protocol error: unexpected '\(frame.message.type.rawValue)'")
                throw VoxError(.unavailable, "The synthesis worker (pid \(worker.pid)) broke the protocol and was restarted; retry the request.")
            case .exited(let reason):
                if Task.isCancelled {
                    // Killed because the request ended (timeout, client gone) before the worker
                    // answered: it is replaced, and the request is not sent again.
                    await pool.workerDied(worker, reason: "it did not answer before its request ended (\(reason))")
                    throw CancellationError()
                }
                await pool.workerDied(worker, reason: reason)
                if retried {
                    throw Self.crashed(pid: worker.pid, detail: "it was already a retry")
                }
                logger.warning("worker died before starting a request; retrying once", metadata: ["vox.worker.pid": "\(worker.pid)"])
                retried = true
            }
        }
    }

    /// Forwards a worker's chunks until `done`, retrying once on another worker if this one dies
    /// before any audio was handed on.
    private static func relay(
        id: UInt64, request: SynthesisRequest, streaming: Bool, worker first: WorkerProcess, retried firstRetried: Bool,
        pool: WorkerPool, logger: Logger, service: WorkerSpeechService,
        continuation: AsyncThrowingStream<AudioChunk, any Error>.Continuation
    ) async {
        var worker = first
        let current = Locked(first)
        var retried = firstRetried
        var delivered = 0
        var held: [AudioChunk] = []
        let finished = Locked(false)
        // A cancelled request still lets its worker finish (the worker then goes back to the
        // pool); one that sends nothing for 5 s (hung: stopped, deadlocked) or does not finish
        // within 30 s is killed and replaced.
        await withTaskCancellationHandler {
            while true {
                switch await worker.nextEvent() {
                case .frame(let frame) where frame.message.id == id && frame.message.type == .chunk:
                    let audio = AudioBuffer(samples: WorkerWire.samples(frame.payload), sampleRate: frame.message.sampleRate ?? 0)
                    let chunk = AudioChunk(
                        audio: audio, index: frame.message.index ?? 0, isLast: frame.message.isLast ?? false, conditioning: frame.message.conditioning)
                    if Task.isCancelled { continue }
                    if streaming {
                        continuation.yield(chunk)
                        delivered += 1
                    } else {
                        held.append(chunk)
                    }
                case .frame(let frame) where frame.message.id == id && frame.message.type == .done:
                    finished.set(true)
                    await pool.checkin(worker, cacheStats: frame.message.cacheStats)
                    for chunk in held { continuation.yield(chunk) }
                    continuation.finish()
                    return
                case .frame(let frame) where frame.message.id == id && frame.message.type == .failed:
                    finished.set(true)
                    await pool.checkin(worker)
                    continuation.finish(throwing: error(from: frame.message))
                    return
                case .frame(let frame):
                    worker.kill()
                    await pool.workerDied(worker, reason: "protocol error: unexpected '\(frame.message.type.rawValue)'")
                    finished.set(true)
                    continuation.finish(throwing: VoxError(.unavailable, "The synthesis worker (pid \(worker.pid)) broke the protocol and was restarted; retry the request."))
                    return
                case .exited(let reason):
                    await pool.workerDied(worker, reason: reason)
                    guard !retried, delivered == 0, !Task.isCancelled else {
                        finished.set(true)
                        let detail = retried ? "it was already a retry" : "part of the audio had already been sent"
                        continuation.finish(throwing: crashed(pid: worker.pid, detail: detail))
                        return
                    }
                    logger.warning("worker died mid-request; retrying once on another worker", metadata: ["vox.worker.pid": "\(worker.pid)"])
                    held = []
                    do {
                        (worker, _, retried) = try await service.begin(id: id, request: request, retried: true)
                        current.set(worker)
                    } catch {
                        finished.set(true)
                        continuation.finish(throwing: error)
                        return
                    }
                }
            }
        } onCancel: {
            Task {
                let deadline = ContinuousClock.now + .seconds(30)
                while !finished.get() {
                    let worker = current.get()
                    if worker.silence > .seconds(5) || ContinuousClock.now > deadline {
                        worker.kill()
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
        }
    }

    static func error(from message: WorkerWire.Message) -> VoxError {
        let kind = message.errorKind ?? .engineFailure
        return VoxError(kind, message.message ?? "The worker failed without saying why.")
    }

    static func crashed(pid: Int32, detail: String) -> VoxError {
        VoxError(.unavailable, "The synthesis worker (pid \(pid)) crashed during this request and was restarted; the request was not retried because \(detail). Send it again.")
    }

    public func voices() async throws -> [VoiceDescription] { try await local.voices() }
    public func models() async throws -> [ModelDescription] { try await local.models() }
    public func addVoice(name: String, audio: Data, fileName: String?, replacing: Bool) async throws -> VoiceDescription {
        try await local.addVoice(name: name, audio: audio, fileName: fileName, replacing: replacing)
    }
    public func removeVoice(id: String) async throws { try await local.removeVoice(id: id) }

    public func status() async -> ServiceStatus {
        var status = await local.status()
        let phase = await pool.phase
        switch phase {
        case .failed(let reason):
            status.workerProblem = "Worker processes could not start (\(reason)); synthesizing in the server process."
        default:
            status.isolation = .process
            status.plan = await pool.plan.isEmpty ? status.plan : pool.plan
            if let problem = await pool.problem { status.workerProblem = problem }
            // Cloned voices are conditioned in the workers: their caches count with the server's.
            status.cache = status.cache + (await pool.cacheStats)
        }
        status.workers = await pool.status
        status.workerRestarts = await pool.totalRestarts
        return status
    }
}

/// Starts the worker pool with the application and stops it after the server has drained.
struct WorkerSupervisor: Service {
    let pool: WorkerPool

    func run() async throws {
        await pool.start()
        try? await gracefulShutdown()
        await pool.stop()
    }
}
