import Foundation
import VoxCore
import VoxRuntime

/// Everything `voxserve serve` can be told, with a default for every field. `ServeCommand` maps
/// the command line and the environment (`VOXSERVE_API_KEY`, `VOXSERVE_OPTIMIZE`) onto it in one place.
public struct ServerConfiguration: Sendable, Equatable {
    /// Address to bind; loopback unless the user says otherwise.
    public var host: String
    public var port: Int
    /// When set, every `/v1/*` request must carry `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    public var isolation: Isolation
    /// Worker processes with `isolation == .process`.
    public var workers: Int
    /// False bypasses the optimizer (`--no-optimize`, `VOXSERVE_OPTIMIZE=0`).
    public var optimize: Bool
    /// Longest `input` accepted by `POST /v1/audio/speech`.
    public var maxTextLength: Int
    /// Largest body accepted by `POST /v1/voices` (the whole multipart body).
    public var maxUploadBytes: Int
    /// Syntheses that run at once; more wait in the queue.
    public var maxConcurrentSyntheses: Int
    /// Requests that may wait for a free slot; one more is answered 429.
    public var maxQueuedRequests: Int
    /// Time from accepting a speech request to its first audio (streaming) or its whole audio; past it the answer is 504.
    public var requestTimeout: Duration
    /// Seconds a client is told to wait in `Retry-After` when the queue is full or workers are down.
    public var retryAfterSeconds: Int
    /// Executable started as `EXE worker …` for process isolation; nil means this process's own executable.
    public var workerExecutable: String?
    /// Time a worker has to report ready before it counts as failed to start.
    public var workerStartTimeout: Duration
    /// HTTP connections served at once; more get 503 (`ConnectionLimit`).
    public var maxConnections: Int
    /// Connections past `maxConnections` still accepted (to be answered 503); beyond that, new
    /// connections wait to be accepted.
    public static let connectionOverflow = 64
    /// An HTTP connection that sends no complete request head for this long (from its start, or
    /// after its last response) is closed: idle keep-alive connections and slow-header clients.
    public var idleTimeout: Duration
    /// The Wyoming protocol beside HTTP (`--wyoming-port`); nil serves HTTP only.
    public var wyoming: WyomingConfiguration?

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        apiKey: String? = nil,
        isolation: Isolation = .inProcess,
        workers: Int = 2,
        optimize: Bool = true,
        maxTextLength: Int = SynthesisRequest.maxTextLength,
        maxUploadBytes: Int = 20 * 1024 * 1024,
        maxConcurrentSyntheses: Int = 2,
        maxQueuedRequests: Int = 32,
        requestTimeout: Duration = .seconds(120),
        retryAfterSeconds: Int = 2,
        workerExecutable: String? = nil,
        workerStartTimeout: Duration = .seconds(60),
        maxConnections: Int = 512,
        idleTimeout: Duration = .seconds(30),
        wyoming: WyomingConfiguration? = nil
    ) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.isolation = isolation
        self.workers = workers
        self.optimize = optimize
        self.maxTextLength = maxTextLength
        self.maxUploadBytes = maxUploadBytes
        self.maxConcurrentSyntheses = maxConcurrentSyntheses
        self.maxQueuedRequests = maxQueuedRequests
        self.requestTimeout = requestTimeout
        self.retryAfterSeconds = retryAfterSeconds
        self.workerExecutable = workerExecutable
        self.workerStartTimeout = workerStartTimeout
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.wyoming = wyoming
    }

    /// Throws a `VoxError` that names the first field out of range.
    public func validate() throws {
        guard (0...65535).contains(port) else { throw VoxError.invalidInput("port must be 0…65535 (got \(port)).") }
        guard workers >= 1 && workers <= 64 else { throw VoxError.invalidInput("workers must be 1…64 (got \(workers)).") }
        guard maxConcurrentSyntheses >= 1 else { throw VoxError.invalidInput("max concurrent syntheses must be at least 1.") }
        guard maxQueuedRequests >= 0 else { throw VoxError.invalidInput("max queued requests must not be negative.") }
        guard maxTextLength >= 1 else { throw VoxError.invalidInput("max text length must be at least 1.") }
        guard maxUploadBytes >= 1024 else { throw VoxError.invalidInput("max upload size must be at least 1 KiB.") }
        guard requestTimeout > .zero else { throw VoxError.invalidInput("request timeout must be positive.") }
        if let key = apiKey, key.isEmpty { throw VoxError.invalidInput("the API key must not be empty.") }
        guard maxConnections >= 1 else { throw VoxError.invalidInput("max connections must be at least 1.") }
        guard idleTimeout > .zero else { throw VoxError.invalidInput("the idle timeout must be positive.") }
        try wyoming?.validate()
        if let wyoming, wyoming.port != 0, wyoming.port == port, wyoming.host == host {
            throw VoxError.invalidInput("the Wyoming port must differ from the HTTP port (both are \(port)).")
        }
    }
}
