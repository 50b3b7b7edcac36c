import Foundation
import ServiceLifecycle
import VoxCore
import VoxOptimizer

/// What the HTTP layer needs from the speech machinery. The server knows nothing else: the
/// production implementation runs the engines in this process (`EngineSpeechService`) or in
/// worker subprocesses (`WorkerSpeechService`), and tests can put a double behind it to inject
/// failures.
public protocol SpeechService: Sendable {
    /// Starts synthesizing. Resolves the voice and everything that can fail before audio exists
    /// (an unknown voice, a missing model) and throws for those; audio then arrives in
    /// `SpeechStream.chunks`. With `streaming == false` the implementation may hold chunks back
    /// until the utterance is complete (a worker pool does, so that it can retry after a crash).
    func speak(_ request: SynthesisRequest, streaming: Bool) async throws -> SpeechStream

    /// Every voice a request may name.
    func voices() async throws -> [VoiceDescription]

    /// The engines (OpenAI "models") this server can run.
    func models() async throws -> [ModelDescription]

    /// Stores an uploaded reference recording as voice `name`. `audio` has already passed the
    /// server's size limit; the implementation checks that it decodes.
    func addVoice(name: String, audio: Data, fileName: String?, replacing: Bool) async throws -> VoiceDescription

    /// Removes an uploaded voice.
    func removeVoice(id: String) async throws

    /// The current state, for `/healthz`, `/metrics` and the web page.
    func status() async -> ServiceStatus

    /// Long-running parts (worker supervision, warm-up) for the application's `ServiceGroup`.
    var lifecycleServices: [any Service] { get }
}

extension SpeechService {
    public var lifecycleServices: [any Service] { [] }
}

/// Where synthesis runs.
public enum Isolation: String, Sendable, Equatable, Codable, CaseIterable {
    /// In the server's own process.
    case inProcess = "inprocess"
    /// In `voxserve worker` subprocesses, so a crashing engine cannot take the server down.
    case process
}

/// Audio on its way, with what is known about how it is being made. Where the voice's
/// conditioning came from travels on the chunks themselves (`AudioChunk.conditioning`).
public struct SpeechStream: Sendable {
    /// The voice that speaks (after aliases are applied).
    public var voice: String
    public var sampleRate: Int
    /// One line describing the execution plan in use (provider, precision, threads).
    public var plan: String
    /// True when the voice's model was already loaded before this request.
    public var warm: Bool
    public var chunks: AsyncThrowingStream<AudioChunk, any Error>

    public init(voice: String, sampleRate: Int, plan: String, warm: Bool, chunks: AsyncThrowingStream<AudioChunk, any Error>) {
        self.voice = voice
        self.sampleRate = sampleRate
        self.plan = plan
        self.warm = warm
        self.chunks = chunks
    }
}

/// One entry of `GET /v1/voices`.
public struct VoiceDescription: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, Equatable {
        /// A Piper voice model installed on disk.
        case model
        /// An uploaded reference recording for a cloning engine.
        case reference
    }

    /// The name a request passes as `voice`.
    public var id: String
    public var kind: Kind
    /// The engine that speaks it ("piper", "chatterbox").
    public var engine: String
    public var sampleRate: Int?
    public var language: String?
    public var source: VoiceSource
    /// False when this server cannot speak it now (a reference voice without the cloning model).
    public var available: Bool
    public var isDefault: Bool
    /// Speaker names in id order, for a voice with several speakers (a request's `speaker_id` is the index).
    public var speakers: [String]?
    /// One line about the voice ("English (United States), dataset joe, medium quality").
    public var description: String?
    /// Version of the voice's files, when they say (Piper's `piper_version`).
    public var version: String?

    public init(
        id: String, kind: Kind, engine: String, sampleRate: Int? = nil, language: String? = nil, source: VoiceSource,
        available: Bool = true, isDefault: Bool = false, speakers: [String]? = nil, description: String? = nil, version: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.engine = engine
        self.sampleRate = sampleRate
        self.language = language
        self.source = source
        self.available = available
        self.isDefault = isDefault
        self.speakers = speakers
        self.description = description
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, engine, language, source, available, speakers, description, version
        case sampleRate = "sample_rate"
        case isDefault = "default"
    }
}

/// One entry of `GET /v1/models`, in OpenAI's shape.
public struct ModelDescription: Sendable, Codable, Equatable {
    public var id: String
    public var object: String = "model"
    public var ownedBy: String = "voxserve"
    public var created: Int = 0
    /// False when the model's files are not installed.
    public var available: Bool

    public init(id: String, available: Bool) {
        self.id = id
        self.available = available
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, available
        case ownedBy = "owned_by"
    }
}

/// Health and counters of the speech machinery.
public struct ServiceStatus: Sendable, Codable, Equatable {
    public struct Worker: Sendable, Codable, Equatable {
        public enum State: String, Sendable, Codable, Equatable {
            case starting, idle, busy, dead, stopped
        }

        public var pid: Int32
        public var state: State
        public var restarts: Int
        public var requests: Int

        public init(pid: Int32, state: State, restarts: Int, requests: Int) {
            self.pid = pid
            self.state = state
            self.restarts = restarts
            self.requests = requests
        }
    }

    public struct Cache: Sendable, Codable, Equatable {
        public var hits: Int
        public var misses: Int
        public var evictions: Int
        public var bytes: Int
        public var entries: Int
        /// Conditionings this process computed (a request that joined one in flight, or found one
        /// in a store, computed nothing). With a fleet's store, the fleet's sum is the number of
        /// computations.
        public var computations: Int

        public init(hits: Int = 0, misses: Int = 0, evictions: Int = 0, bytes: Int = 0, entries: Int = 0, computations: Int = 0) {
            self.hits = hits
            self.misses = misses
            self.evictions = evictions
            self.bytes = bytes
            self.entries = entries
            self.computations = computations
        }

        /// A cache's counters as the status reports them: hits from memory or disk, misses, memory
        /// evictions, and what the cache holds (memory entries and bytes).
        public init(_ stats: ConditioningCacheStats) {
            self.init(
                hits: stats.memoryHits + stats.diskHits, misses: stats.misses + stats.coalescedRequests, evictions: stats.evictions,
                bytes: stats.memoryBytes, entries: stats.memoryEntries, computations: stats.misses)
        }

        /// The sum of two processes' caches (the server's and its workers').
        public static func + (a: Cache, b: Cache) -> Cache {
            Cache(
                hits: a.hits + b.hits, misses: a.misses + b.misses, evictions: a.evictions + b.evictions, bytes: a.bytes + b.bytes,
                entries: a.entries + b.entries, computations: a.computations + b.computations)
        }
    }

    /// `.inProcess` also when workers could not start.
    public var isolation: Isolation
    public var optimize: Bool
    public var plan: String
    public var defaultVoice: String?
    public var workers: [Worker]
    /// Why process isolation is not in use although it was asked for; nil when all is well.
    public var workerProblem: String?
    public var workerRestarts: Int
    /// Plan steps that failed and moved to the next plan entry, since start.
    public var fallbacks: Int
    public var cache: Cache
    /// Voices whose models are loaded.
    public var loadedVoices: [String]
    /// What the caches cannot do now (a folder that cannot be written), one sentence each; empty when all is well.
    public var cacheProblems: [String]
    /// Cache writes that failed since start (optimized models and conditioning).
    public var cacheWriteFailures: Int

    public init(
        isolation: Isolation, optimize: Bool, plan: String, defaultVoice: String?, workers: [Worker] = [],
        workerProblem: String? = nil, workerRestarts: Int = 0, fallbacks: Int = 0, cache: Cache = Cache(),
        loadedVoices: [String] = [], cacheProblems: [String] = [], cacheWriteFailures: Int = 0
    ) {
        self.isolation = isolation
        self.optimize = optimize
        self.plan = plan
        self.defaultVoice = defaultVoice
        self.workers = workers
        self.workerProblem = workerProblem
        self.workerRestarts = workerRestarts
        self.fallbacks = fallbacks
        self.cache = cache
        self.loadedVoices = loadedVoices
        self.cacheProblems = cacheProblems
        self.cacheWriteFailures = cacheWriteFailures
    }

    /// Why the service is not fully itself, one sentence each: workers not in use, caches not written.
    public var problems: [String] { (workerProblem.map { [$0] } ?? []) + cacheProblems }
}
