import Foundation
import Logging
import ServiceLifecycle
import VoxAudio
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer
import VoxPhonemizer

/// Synthesis in this process, over the real engines: a request's voice is resolved once by the
/// ``VoiceRegistry`` into a Piper voice or a cloned one, whose engine the ``SynthesizerFactory``
/// builds once, on first use (through the optimizer unless it is off). The server runs it in its
/// own process, and each `voxserve worker` runs one.
public final class EngineSpeechService: SpeechService {
    public let factory: SynthesizerFactory
    public let registry: VoiceRegistry
    let warmUpOnStart: Bool
    let logger: Logger
    /// A fleet's voice library, written through before this replica's own (nil: this one only).
    let sharedVoices: (any SharedVoiceLibrary)?
    /// Long-running parts of what was plugged in (a fleet's store and its voice sync).
    let services: [any Service]
    private let engines = EngineCache()

    /// - Parameter warmUpOnStart: build the default voice's engine when the application starts.
    public init(
        factory: SynthesizerFactory, registry: VoiceRegistry, warmUpOnStart: Bool = false, logger: Logger,
        sharedVoices: (any SharedVoiceLibrary)? = nil, services: [any Service] = []
    ) {
        self.factory = factory
        self.registry = registry
        self.warmUpOnStart = warmUpOnStart
        self.logger = logger
        self.sharedVoices = sharedVoices
        self.services = services
    }

    /// The service over what `make setup` installed and `configuration.paths` holds.
    public convenience init(configuration: RuntimeConfiguration, warmUpOnStart: Bool, logger: Logger) {
        let factory = SynthesizerFactory(configuration: configuration, phonemizer: EspeakPhonemizer.shared, logger: logger)
        self.init(factory: factory, registry: VoiceRegistry(configuration: configuration, logger: logger), warmUpOnStart: warmUpOnStart, logger: logger)
    }

    public var lifecycleServices: [any Service] { services + (warmUpOnStart ? [WarmUpService(service: self)] : []) }

    /// Builds the default voice's engine so that the first request does not pay for it.
    public func warmUp() async throws {
        _ = try await engine(for: try await registry.resolve(nil))
    }

    /// One line about how `synthesizer` runs: the optimizer's active plan entry, or the plain engine.
    static func plan(of synthesizer: any SpeechSynthesizer) async -> String {
        guard let optimized = synthesizer as? OptimizedSynthesizer else {
            return "cpu fp32, ONNX Runtime defaults (optimizer off)"
        }
        let report = await optimized.report
        guard let entry = report.activeEntry else { return "every plan entry failed" }
        var line = Self.describe(entry)
        if !report.fallbacks.isEmpty { line += ", after \(report.fallbacks.count) fallback(s)" }
        return line
    }

    /// One line for a plan entry: provider and precision, threads, sentence parallelism, graph optimization.
    static func describe(_ entry: PlanEntry) -> String {
        let parallel = entry.chunking.parallelSentences > 1 ? ", \(entry.chunking.parallelSentences) sentences at once" : ""
        return "\(entry.label), \(entry.intraOpThreads) intra-op threads\(parallel), graph opt \(entry.graphOptimization)"
    }

    /// The plan line before any engine is loaded: the plan the default voice would get.
    func plannedLine() async -> String {
        guard factory.configuration.optimize else { return "cpu fp32, ONNX Runtime defaults (optimizer off)" }
        guard case .piper(let voice, _)? = try? await registry.resolve(nil), let entry = try? factory.plan(for: voice).primary else {
            return "unknown"
        }
        return Self.describe(entry) + " (planned)"
    }

    /// The engine that speaks `voice`: one per Piper voice, one Chatterbox for every cloned voice.
    private func engine(for voice: Voice) async throws -> (any SpeechSynthesizer, warm: Bool) {
        let factory = self.factory
        switch voice {
        case .piper(let piper, _):
            return try await engines.engine(for: piper.name) { try await factory.piper(piper) }
        case .cloned(let cloned):
            guard factory.chatterboxInstalled else {
                throw VoxError(
                    .engineNotInstalled,
                    "'\(cloned.name)' is an uploaded reference voice; speaking it needs the Chatterbox model, which is not installed (see the README). Use a Piper voice from GET /v1/voices.")
            }
            return try await engines.engine(for: ChatterboxEngine.engineID) { try await factory.chatterbox() }
        }
    }

    public func speak(_ request: SynthesisRequest, streaming: Bool) async throws -> SpeechStream {
        let voice = try await registry.resolve(request.voice)
        if let wanted = request.engine, wanted != voice.engine {
            throw VoxError.invalidInput(
                "The model '\(wanted)' cannot speak '\(voice.name)', a \(voice.engine) voice: leave the model out (or use tts-1), or choose a \(wanted) voice from GET /v1/voices.")
        }
        let (engine, warm) = try await engine(for: voice)
        var request = request
        let sampleRate: Int
        switch voice {
        case .piper(let piper, _):
            request.voice = piper.name
            sampleRate = engine.info.sampleRate
        case .cloned(let cloned):
            request.voice = nil
            request.reference = try await registry.reference(of: cloned)
            sampleRate = ChatterboxEngine.sampleRate
        }
        return SpeechStream(voice: voice.name, sampleRate: sampleRate, plan: await Self.plan(of: engine), warm: warm, chunks: engine.stream(request))
    }

    public func voices() async throws -> [VoiceDescription] {
        let piper = try await registry.piperVoices().map { voice, source in
            VoiceDescription(
                id: voice.name, kind: .model, engine: "piper", sampleRate: voice.sampleRate, language: voice.language, source: source,
                available: true, isDefault: voice.name == VoiceRegistry.defaultVoice,
                speakers: voice.speakerNames.isEmpty ? nil : voice.speakerNames,
                description: voice.about.summary.isEmpty ? nil : voice.about.summary, version: voice.about.piperVersion)
        }
        let taken = Set(piper.map(\.id))
        let library = registry.library
        let cloned = try await registry.clonedVoices().values.sorted { $0.name < $1.name }.filter { !taken.contains($0.name) }.map {
            let present = library.hasRecording($0)
            return VoiceDescription(
                id: $0.name, kind: .reference, engine: ChatterboxEngine.engineID, language: ChatterboxEngine.language, source: .upload,
                available: factory.chatterboxInstalled && present,
                description: !present ? "Its recording is missing from the voice library: remove the voice and add it again"
                    : factory.chatterboxInstalled ? Self.clonedDescription : Self.notSpeakableYet)
        }
        return piper + cloned
    }

    public func models() async throws -> [ModelDescription] {
        [
            ModelDescription(id: "piper", available: try await !registry.piperVoices().isEmpty),
            ModelDescription(id: ChatterboxEngine.engineID, available: factory.chatterboxInstalled),
        ]
    }

    /// Stores an uploaded recording after checking it decodes and, when a cloning engine is
    /// installed, that the engine accepts it as a reference (Chatterbox needs more than 5 s): a
    /// voice listed as available must be one that speaks.
    public func addVoice(name: String, audio: Data, fileName: String?, replacing: Bool) async throws -> VoiceDescription {
        let label = fileName ?? name
        let cloning = factory.chatterboxInstalled
        let decoded = try await offload {
            let decoded = try AudioDecoder().decode(audio, label: label)
            if cloning {
                _ = try ChatterboxEngine.prepareReference(decoded, label: label, options: ChatterboxOptions())
            }
            return decoded
        }
        guard decoded.duration >= 1 else {
            throw VoxError.invalidAudio("\(label) holds \(decoded.duration.formatted(decimals: 2)) s of audio; a reference needs at least a second (5–15 s is best).")
        }
        let entry = if let sharedVoices {
            try await sharedVoices.add(name: name, data: audio, originalFileName: fileName, replacing: replacing)
        } else {
            try await registry.add(name: name, data: audio, originalFileName: fileName, replacing: replacing)
        }
        logger.info("voice uploaded", metadata: ["vox.voice": "\(entry.name)", "vox.audio_s": "\(decoded.duration.formatted(decimals: 1))"])
        return VoiceDescription(
            id: entry.name, kind: .reference, engine: ChatterboxEngine.engineID, sampleRate: decoded.sampleRate, language: ChatterboxEngine.language,
            source: .upload, available: cloning, description: cloning ? Self.clonedDescription : Self.notSpeakableYet)
    }

    static let clonedDescription = "Cloned from an uploaded recording"
    static let notSpeakableYet = "Stored, not speakable yet: voice cloning needs the Chatterbox model, which is not installed (README, \"Voice cloning with Chatterbox\")"

    public func removeVoice(id: String) async throws {
        if let sharedVoices {
            try await sharedVoices.remove(name: id)
        } else {
            try await registry.remove(name: id)
        }
    }

    /// The conditioning cache's counters and what its memory tier holds (no disk listing).
    public func cacheCounters() async -> ServiceStatus.Cache {
        ServiceStatus.Cache(await factory.conditioningCache.stats(includingStore: false))
    }

    public func status() async -> ServiceStatus {
        let loaded = await engines.all
        let defaultEngine = loaded.first { $0.info.voice == VoiceRegistry.defaultVoice } ?? loaded.first
        var fallbacks = 0
        for case let optimized as OptimizedSynthesizer in loaded { fallbacks += await optimized.report.fallbacks.count }
        let plan = if let defaultEngine { await Self.plan(of: defaultEngine) } else { await plannedLine() }
        let conditioning = await factory.conditioningCache.stats(includingStore: false)
        var cacheProblems = factory.cacheHealth.problems
        if conditioning.diskWriteFailures > 0 {
            cacheProblems.append(
                "conditioning cache: \(conditioning.diskWriteFailures) write\(conditioning.diskWriteFailures == 1 ? "" : "s") failed; cloned voices are conditioned again after a restart")
        }
        return ServiceStatus(
            isolation: .inProcess, optimize: factory.configuration.optimize, plan: plan,
            defaultVoice: VoiceRegistry.defaultVoice, fallbacks: fallbacks, cache: ServiceStatus.Cache(conditioning),
            loadedVoices: loaded.map(\.info.voice).sorted(), cacheProblems: cacheProblems,
            cacheWriteFailures: factory.cacheHealth.failures + conditioning.diskWriteFailures)
    }
}

/// Built engines by voice name; concurrent first requests for one voice build it once.
actor EngineCache {
    private var engines: [String: any SpeechSynthesizer] = [:]
    private var loading: [String: Task<any SpeechSynthesizer, any Error>] = [:]

    var all: [any SpeechSynthesizer] { Array(engines.values) }

    func engine(for name: String, load: @Sendable @escaping () async throws -> any SpeechSynthesizer) async throws -> (any SpeechSynthesizer, warm: Bool) {
        if let engine = engines[name] { return (engine, true) }
        if let task = loading[name] { return (try await task.value, false) }
        let task = Task { try await load() }
        loading[name] = task
        defer { loading[name] = nil }
        let engine = try await task.value
        engines[name] = engine
        return (engine, false)
    }
}

/// Loads the default voice when the application starts, then waits for shutdown.
struct WarmUpService: Service {
    let service: EngineSpeechService

    func run() async throws {
        do {
            try await service.warmUp()
        } catch {
            service.logger.error("could not load the default voice; requests will try again", metadata: ["vox.error": "\(error)"])
        }
        try? await gracefulShutdown()
    }
}

/// A voice library several replicas share (VoxFleet's, in PostgreSQL), kept in front of this
/// replica's own: a change is made there first and mirrored here.
public protocol SharedVoiceLibrary: Sendable {
    func add(name: String, data: Data, originalFileName: String?, replacing: Bool) async throws -> LibraryVoice
    func remove(name: String) async throws
}
