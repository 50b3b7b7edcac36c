import Foundation
import Logging
import ServiceLifecycle
import VoxAudio
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// Synthesis in this process, over the real engines: Piper voices from the `VoiceCatalog`
/// (each voice's model loaded once, on first use) and uploaded references in the `VoiceLibrary`.
public final class EngineSpeechService: SpeechService {
    public let catalog: VoiceCatalog
    public let library: VoiceLibrary
    let phonemizer: any Phonemizer
    let runtime: ONNXRuntime
    let sessionOptions: SessionOptions
    let optimize: Bool
    let warmUpOnStart: Bool
    let logger: Logger
    private let engines: EngineCache

    /// - Parameters:
    ///   - optimize: recorded in the status; the optimizer itself wraps engines once it is wired in.
    public init(
        catalog: VoiceCatalog, library: VoiceLibrary, phonemizer: any Phonemizer, runtime: ONNXRuntime,
        sessionOptions: SessionOptions = SessionOptions(), optimize: Bool, warmUpOnStart: Bool = false, logger: Logger
    ) {
        self.warmUpOnStart = warmUpOnStart
        self.catalog = catalog
        self.library = library
        self.phonemizer = phonemizer
        self.runtime = runtime
        self.sessionOptions = sessionOptions
        self.optimize = optimize
        self.logger = logger
        self.engines = EngineCache()
    }

    /// One line about how models run, e.g. "cpu, fp32, intra-op threads auto, graph opt all".
    public var plan: String {
        let provider: String
        switch sessionOptions.provider {
        case .cpu: provider = "cpu"
        case .cuda(let device, let graph): provider = "cuda:\(device)\(graph ? " +graphs" : "")"
        }
        let threads = sessionOptions.intraOpThreads == 0 ? "auto" : String(sessionOptions.intraOpThreads)
        return "\(provider), fp32, intra-op threads \(threads), graph opt \(sessionOptions.graphOptimizationLevel.rawValue)\(optimize ? "" : ", optimizer off")"
    }

    public var lifecycleServices: [any Service] { warmUpOnStart ? [WarmUpService(service: self)] : [] }

    /// Loads the default voice so that the first request does not pay for it.
    public func warmUp() async throws {
        _ = try await engine(named: nil)
    }

    private func engine(named name: String?) async throws -> (PiperEngine, warm: Bool) {
        let voice = try catalog.resolve(name: name)
        let (phonemizer, runtime, options, logger) = (self.phonemizer, self.runtime, self.sessionOptions, self.logger)
        return try await engines.engine(for: voice.name) {
            try await offload { try PiperEngine(voice: voice, phonemizer: phonemizer, options: options, runtime: runtime, logger: logger) }
        }
    }

    public func speak(_ request: SynthesisRequest, streaming: Bool) async throws -> SpeechStream {
        let (engine, warm): (PiperEngine, Bool)
        do {
            (engine, warm) = try await self.engine(named: request.voice)
        } catch let error as VoxError where error.kind == .unknownVoice {
            if let name = request.voice, (try? await library.entry(named: name)) != nil {
                throw VoxError(
                    .unsupported,
                    "'\(name)' is an uploaded reference voice; speaking it needs the Chatterbox cloning engine, which this server does not run yet. Use a Piper voice from GET /v1/voices.")
            }
            let known = catalog.list().map(\.name) + ((try? await library.list())?.map(\.name) ?? [])
            throw VoxError.unknownVoice(request.voice ?? VoiceCatalog.defaultVoice, known: known)
        }
        var request = request
        request.voice = engine.voice.name
        return SpeechStream(
            voice: engine.voice.name, sampleRate: engine.voice.sampleRate, plan: plan, cache: .none, warm: warm,
            chunks: engine.stream(request))
    }

    public func voices() async throws -> [VoiceDescription] {
        var result = catalog.list().map {
            VoiceDescription(
                id: $0.name, kind: .model, engine: $0.engine, sampleRate: $0.sampleRate, language: $0.language, source: $0.source,
                available: true, isDefault: $0.name == VoiceCatalog.defaultVoice)
        }
        let taken = Set(result.map(\.id))
        for voice in try await library.list() where !taken.contains(voice.name) {
            result.append(VoiceDescription(id: voice.name, kind: .reference, engine: "chatterbox", source: "upload", available: false))
        }
        return result
    }

    public func models() async throws -> [ModelDescription] {
        [ModelDescription(id: "piper", available: !catalog.list().isEmpty)]
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
        return VoiceDescription(id: entry.name, kind: .reference, engine: "chatterbox", sampleRate: decoded.sampleRate, source: "upload", available: false)
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
        ServiceStatus(
            isolation: "inprocess", optimize: optimize, plan: plan, defaultVoice: VoiceCatalog.defaultVoice,
            loadedVoices: await engines.loaded)
    }
}

/// Loaded engines by voice name; concurrent first requests for one voice load it once.
actor EngineCache {
    private var engines: [String: PiperEngine] = [:]
    private var loading: [String: Task<PiperEngine, any Error>] = [:]

    var loaded: [String] { engines.keys.sorted() }

    func engine(for name: String, load: @Sendable @escaping () async throws -> PiperEngine) async throws -> (PiperEngine, warm: Bool) {
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
    /// - Parameter warmUp: load the default voice when the application starts.
    public static func production(paths: VoxPaths = .fromEnvironment(), optimize: Bool, warmUp: Bool = true, logger: Logger) throws -> EngineSpeechService {
        let runtime = try ONNXRuntime.shared(paths: paths)
        return EngineSpeechService(
            catalog: VoiceCatalog(paths: paths), library: VoiceLibrary(paths: paths, logger: logger),
            phonemizer: EspeakSentencePhonemizer(), runtime: runtime, optimize: optimize, warmUpOnStart: warmUp, logger: logger)
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
