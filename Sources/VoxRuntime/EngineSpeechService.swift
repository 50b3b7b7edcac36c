import Foundation
import Logging
import ServiceLifecycle
import VoxAudio
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer
import VoxPhonemizer

/// Synthesis in this process, over the real engines: Piper voices from the `VoiceCatalog`
/// (each built once, on first use, by the `SynthesizerFactory`: through the optimizer unless it is
/// off) and uploaded references in the `VoiceLibrary`.
public final class EngineSpeechService: SpeechService {
    public let factory: SynthesizerFactory
    public let catalog: VoiceCatalog
    public let library: VoiceLibrary
    let warmUpOnStart: Bool
    let logger: Logger
    private let engines = EngineCache()

    /// - Parameter warmUpOnStart: build the default voice's engine when the application starts.
    public init(factory: SynthesizerFactory, catalog: VoiceCatalog, library: VoiceLibrary, warmUpOnStart: Bool = false, logger: Logger) {
        self.factory = factory
        self.catalog = catalog
        self.library = library
        self.warmUpOnStart = warmUpOnStart
        self.logger = logger
    }

    public var lifecycleServices: [any Service] { warmUpOnStart ? [WarmUpService(service: self)] : [] }

    /// Builds the default voice's engine so that the first request does not pay for it.
    public func warmUp() async throws {
        _ = try await engine(named: nil)
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
    var plannedLine: String {
        guard factory.settings.optimize else { return "cpu fp32, ONNX Runtime defaults (optimizer off)" }
        guard let voice = try? catalog.resolve(name: nil), let entry = try? factory.plan(for: voice).primary else { return "unknown" }
        return Self.describe(entry) + " (planned)"
    }

    private func engine(named name: String?) async throws -> (any SpeechSynthesizer, warm: Bool) {
        let voice = try catalog.resolve(name: name)
        let factory = self.factory
        return try await engines.engine(for: voice.name) { try await factory.piper(voice) }
    }

    public func speak(_ request: SynthesisRequest, streaming: Bool) async throws -> SpeechStream {
        let (engine, warm): (any SpeechSynthesizer, Bool)
        do {
            (engine, warm) = try await self.engine(named: request.voice)
        } catch let error as VoxError where error.kind == .unknownVoice {
            if let name = request.voice, (try? await library.entry(named: name)) != nil {
                return try await speakCloned(request, voice: name)
            }
            let known = catalog.list().map(\.name) + ((try? await library.list())?.map(\.name) ?? [])
            throw VoxError.unknownVoice(request.voice ?? VoiceCatalog.defaultVoice, known: known)
        }
        var request = request
        request.voice = engine.info.voice
        return SpeechStream(
            voice: engine.info.voice, sampleRate: engine.info.sampleRate, plan: await Self.plan(of: engine), cache: .none, warm: warm,
            chunks: engine.stream(request))
    }

    /// An uploaded reference voice, spoken by Chatterbox; its conditioning comes from the cache.
    private func speakCloned(_ request: SynthesisRequest, voice name: String) async throws -> SpeechStream {
        guard factory.chatterboxInstalled else {
            throw VoxError(
                .unsupported,
                "'\(name)' is an uploaded reference voice; speaking it needs the Chatterbox model, which is not installed (see the README). Use a Piper voice from GET /v1/voices.")
        }
        let factory = self.factory
        let (engine, warm) = try await engines.engine(for: "chatterbox") { try await factory.chatterbox() }
        let stored = try await library.entry(named: name)
        let reference = try await library.reference(named: name)
        var request = request
        request.voice = nil
        request.reference = reference
        let store = factory.conditioningStore
        var stream = SpeechStream(
            voice: name, sampleRate: ChatterboxEngine.sampleRate, plan: await Self.plan(of: engine), cache: .miss, warm: warm,
            chunks: engine.stream(request))
        stream.cacheOutcome = { store.lastOutcome(referenceSHA256: stored.sha256).map { $0 == .miss ? .miss : .hit } ?? .miss }
        return stream
    }

    public func voices() async throws -> [VoiceDescription] {
        var result = catalog.list().map {
            VoiceDescription(
                id: $0.name, kind: .model, engine: $0.engine, sampleRate: $0.sampleRate, language: $0.language, source: $0.source,
                available: true, isDefault: $0.name == VoiceCatalog.defaultVoice)
        }
        let taken = Set(result.map(\.id))
        for voice in try await library.list() where !taken.contains(voice.name) {
            result.append(VoiceDescription(id: voice.name, kind: .reference, engine: "chatterbox", source: "upload", available: factory.chatterboxInstalled))
        }
        return result
    }

    public func models() async throws -> [ModelDescription] {
        [ModelDescription(id: "piper", available: !catalog.list().isEmpty), ModelDescription(id: "chatterbox", available: factory.chatterboxInstalled)]
    }

    public func addVoice(name: String, audio: Data, fileName: String?, replacing: Bool) async throws -> VoiceDescription {
        if catalog.list().contains(where: { $0.name == name }) {
            throw APIError(
                .conflict, type: "invalid_request_error", code: "voice_exists",
                message: "'\(name)' is an installed model voice; choose another name for the upload.", param: "name")
        }
        if !replacing, (try? await library.entry(named: name)) != nil {
            throw APIError(
                .conflict, type: "invalid_request_error", code: "voice_exists",
                message: "A voice named '\(name)' already exists; delete it first, choose another name, or send replace=true.",
                param: "name")
        }
        let label = fileName ?? name
        let decoded = try await offload { try AudioDecoder().decode(audio, label: label) }
        guard decoded.duration >= 1 else {
            throw VoxError.invalidAudio("\(label) holds \(decoded.duration.formatted(decimals: 2)) s of audio; a reference needs at least a second (5–15 s is best).")
        }
        let entry = try await library.add(name: name, data: audio, originalFileName: fileName, replacing: replacing)
        logger.info("voice uploaded", metadata: ["vox.voice": "\(entry.name)", "vox.audio_s": "\(decoded.duration.formatted(decimals: 1))"])
        return VoiceDescription(id: entry.name, kind: .reference, engine: "chatterbox", sampleRate: decoded.sampleRate, source: "upload", available: factory.chatterboxInstalled)
    }

    public func removeVoice(id: String) async throws {
        if catalog.list().contains(where: { $0.name == id }) {
            throw APIError(
                .conflict, type: "invalid_request_error", code: "voice_not_deletable",
                message: "'\(id)' is an installed model voice; only uploaded voices can be deleted through the API.")
        }
        _ = try await library.remove(name: id)
    }

    public func status() async -> ServiceStatus {
        let loaded = await engines.all
        let defaultEngine = loaded.first { $0.info.voice == VoiceCatalog.defaultVoice } ?? loaded.first
        var fallbacks = 0
        for case let optimized as OptimizedSynthesizer in loaded { fallbacks += await optimized.report.fallbacks.count }
        let plan = if let defaultEngine { await Self.plan(of: defaultEngine) } else { plannedLine }
        return ServiceStatus(
            isolation: "inprocess", optimize: factory.settings.optimize, plan: plan,
            defaultVoice: VoiceCatalog.defaultVoice, fallbacks: fallbacks, loadedVoices: loaded.map(\.info.voice).sorted())
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

extension EngineSpeechService {
    /// The service over what `make setup` installed and `$VOXSERVE_HOME` holds.
    /// - Parameter warmUp: build the default voice's engine when the application starts.
    public static func production(paths: VoxPaths = .fromEnvironment(), optimize: Bool, warmUp: Bool = true, logger: Logger) -> EngineSpeechService {
        let factory = SynthesizerFactory(
            paths: paths, settings: EngineSettings(optimize: optimize, warmUp: true), phonemizer: EspeakPhonemizer.shared, logger: logger)
        return EngineSpeechService(
            factory: factory, catalog: VoiceCatalog(paths: paths), library: VoiceLibrary(paths: paths, logger: logger),
            warmUpOnStart: warmUp, logger: logger)
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
