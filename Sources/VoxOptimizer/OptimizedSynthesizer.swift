import Foundation
import Logging
import VoxCore
import VoxONNX

/// Runs any engine through an `ExecutionPlan`: builds the engine for the best entry, warms it up,
/// and when building fails, synthesis fails with an engine error, or the audio is non-finite or
/// silent, retires that entry, records why, and retries the request on the next one. It is itself
/// a `SpeechSynthesizer`, so the server, the CLI and the benchmark cannot tell it from the engine.
public final class OptimizedSynthesizer: SpeechSynthesizer {
    /// Builds an engine that runs as `PlanEntry` says (provider, precision per component, threads…).
    public typealias EngineFactory = @Sendable (PlanEntry) async throws -> any SpeechSynthesizer

    public let plan: ExecutionPlan
    /// What `prepare()` synthesizes.
    public let warmUpRequest: SynthesisRequest
    private let state: OptimizerState
    private let currentInfo: Locked<SynthesizerInfo>

    /// Creates the synthesizer without building anything; `prepare()` (or the first request) builds
    /// the engine. Until an engine exists, `info` is a placeholder with engine "pending" and sample
    /// rate 0: call `prepare()` before serving.
    public init(
        plan: ExecutionPlan, warmUpRequest: SynthesisRequest = SynthesisRequest(text: "Hello. This is a warm-up."),
        logger: Logger = Logger(label: "vox.optimizer"), factory: @escaping EngineFactory
    ) {
        self.plan = plan
        self.warmUpRequest = warmUpRequest
        let info = Locked(SynthesizerInfo(engine: "pending", voice: plan.model, sampleRate: 0))
        self.currentInfo = info
        self.state = OptimizerState(plan: plan, factory: factory, info: info, logger: logger)
    }

    /// Creates the synthesizer and runs `prepare()`.
    public static func prepared(
        plan: ExecutionPlan, warmUpRequest: SynthesisRequest = SynthesisRequest(text: "Hello. This is a warm-up."),
        logger: Logger = Logger(label: "vox.optimizer"), factory: @escaping EngineFactory
    ) async throws -> OptimizedSynthesizer {
        let synthesizer = OptimizedSynthesizer(plan: plan, warmUpRequest: warmUpRequest, logger: logger, factory: factory)
        try await synthesizer.prepare()
        return synthesizer
    }

    /// Builds the engine and synthesizes `warmUpRequest` once, falling back as needed, so that the
    /// first real request meets a loaded, tried engine (ONNX Runtime allocates and, on CUDA, picks
    /// kernels on the first run). Throws when every entry fails.
    @discardableResult
    public func prepare() async throws -> OptimizationReport {
        let clock = ContinuousClock()
        let start = clock.now
        _ = try await synthesize(warmUpRequest, stage: .warmUp)
        let elapsed = clock.now - start
        await state.setWarmUp(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        return await state.report()
    }

    /// The plan, the active entry, the fallbacks with their reasons, and the warm-up time.
    public var report: OptimizationReport {
        get async { await state.report() }
    }

    /// The active engine's info (see `init` for the placeholder before one is built).
    public var info: SynthesizerInfo { currentInfo.get() }

    public func synthesize(_ request: SynthesisRequest) async throws -> AudioBuffer {
        try await synthesize(request, stage: .synthesis)
    }

    private func synthesize(_ request: SynthesisRequest, stage: FallbackStage) async throws -> AudioBuffer {
        while true {
            try Task.checkCancellation()
            let (index, engine) = try await state.activeEngine()
            let audio: AudioBuffer
            do {
                audio = try await engine.synthesize(request)
            } catch {
                guard FallbackPolicy.isEngineFailure(error) else { throw error }
                await state.recordFailure(entryIndex: index, stage: stage, reason: FallbackPolicy.describe(error))
                continue
            }
            if let problem = FallbackPolicy.problem(with: audio) {
                await state.recordFailure(entryIndex: index, stage: stage, reason: problem)
                continue
            }
            return audio
        }
    }

    /// Streams from the active engine. Until the first chunk has gone out, a failure moves to the
    /// next entry and starts over; after that the listener already has audio, so the stream ends with
    /// the error (and later requests use the next entry). Non-finite chunks always count as a
    /// failure; a silent chunk only as the first (a pause later in an utterance is normal).
    public func stream(_ request: SynthesisRequest) -> AsyncThrowingStream<AudioChunk, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    while true {
                        try Task.checkCancellation()
                        let (index, engine) = try await self.state.activeEngine()
                        if try await self.streamOnce(request, index: index, engine: engine, into: continuation) { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Streams one attempt; true when it finished, false when the next entry should try.
    private func streamOnce(
        _ request: SynthesisRequest, index: Int, engine: any SpeechSynthesizer, into continuation: AsyncThrowingStream<AudioChunk, Error>.Continuation
    ) async throws -> Bool {
        var yielded = 0
        var problem: String?
        do {
            for try await chunk in engine.stream(request) {
                if !chunk.audio.isFinite || yielded == 0 {
                    problem = FallbackPolicy.problem(with: chunk.audio)
                    if problem != nil { break }
                }
                continuation.yield(chunk)
                yielded += 1
            }
            // A request that was cancelled (its deadline passed, its client left) says nothing
            // about the engine: an engine stopped half-way must not retire its plan entry.
            try Task.checkCancellation()
            if yielded == 0 && problem == nil { problem = "the stream ended without audio" }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            guard FallbackPolicy.isEngineFailure(error) else { throw error }
            await state.recordFailure(entryIndex: index, stage: .stream, reason: FallbackPolicy.describe(error))
            if yielded == 0 { return false }
            throw error
        }
        guard let problem else { return true }
        await state.recordFailure(entryIndex: index, stage: .stream, reason: problem)
        if yielded == 0 { return false }
        throw VoxError.engineFailure(
            "Streaming stopped after \(yielded) chunk\(yielded == 1 ? "" : "s") because \(problem); later requests run on the next execution plan entry."
        )
    }
}

/// The mutable half of `OptimizedSynthesizer`: which plan entry is active, its engine, and the
/// fallbacks so far. Synthesis itself runs outside the actor, so requests proceed in parallel;
/// only choosing, building and retiring engines goes through here.
actor OptimizerState {
    let plan: ExecutionPlan
    private let factory: OptimizedSynthesizer.EngineFactory
    private let info: Locked<SynthesizerInfo>
    private let logger: Logger

    /// The entry requests run on; `plan.entries.count` once all have failed.
    private var activeIndex = 0
    private var engine: (index: Int, synthesizer: any SpeechSynthesizer)?
    /// An engine being built, shared by the requests that arrive meanwhile so it is built once.
    private var loading: (index: Int, task: Task<any SpeechSynthesizer, any Error>)?
    private var events: [FallbackEvent] = []
    private var warmUpSeconds: Double?

    init(plan: ExecutionPlan, factory: @escaping OptimizedSynthesizer.EngineFactory, info: Locked<SynthesizerInfo>, logger: Logger) {
        self.plan = plan
        self.factory = factory
        self.info = info
        self.logger = logger
    }

    /// The engine of the active entry, built on first use. An entry whose engine cannot be built is
    /// recorded and skipped. Throws when no entry is left.
    func activeEngine() async throws -> (index: Int, synthesizer: any SpeechSynthesizer) {
        while activeIndex < plan.entries.count {
            let index = activeIndex
            if let engine, engine.index == index { return engine }
            let task: Task<any SpeechSynthesizer, any Error>
            if let loading, loading.index == index {
                task = loading.task
            } else {
                let entry = plan.entries[index]
                let factory = self.factory
                task = Task { try await factory(entry) }
                loading = (index, task)
            }
            do {
                let synthesizer = try await task.value
                if loading?.index == index { loading = nil }
                // Another request may have retired this entry while it was being built.
                guard activeIndex == index else { continue }
                engine = (index, synthesizer)
                info.set(synthesizer.info)
                logger.info("engine ready", metadata: ["vox.plan.entry": "\(index)", "vox.plan.label": "\(plan.entries[index].label)"])
                return (index, synthesizer)
            } catch {
                if loading?.index == index { loading = nil }
                recordFailure(entryIndex: index, stage: .load, reason: FallbackPolicy.describe(error))
            }
        }
        throw exhaustedError()
    }

    /// Retires entry `entryIndex` (when it is still the active one: several requests may see the
    /// same failure) and moves to the next.
    func recordFailure(entryIndex: Int, stage: FallbackStage, reason: String) {
        guard entryIndex == activeIndex, entryIndex < plan.entries.count else { return }
        let label = plan.entries[entryIndex].label
        events.append(FallbackEvent(entryIndex: entryIndex, entryLabel: label, stage: stage, reason: reason))
        activeIndex += 1
        engine = nil
        let next = activeIndex < plan.entries.count ? plan.entries[activeIndex].label : "none left"
        logger.warning(
            "plan entry failed, falling back",
            metadata: ["vox.plan.entry": "\(entryIndex)", "vox.plan.label": "\(label)", "vox.plan.stage": "\(stage.rawValue)",
                       "vox.plan.reason": "\(reason)", "vox.plan.next": "\(next)"]
        )
    }

    func setWarmUp(seconds: Double) {
        warmUpSeconds = seconds
    }

    func report() -> OptimizationReport {
        OptimizationReport(
            plan: plan, activeEntryIndex: activeIndex < plan.entries.count ? activeIndex : nil,
            engineLoaded: engine != nil, fallbacks: events, warmUpSeconds: warmUpSeconds
        )
    }

    private func exhaustedError() -> VoxError {
        let detail = events.map { "#\($0.entryIndex) \($0.entryLabel) (\($0.stage.rawValue)): \($0.reason)" }.joined(separator: "; ")
        guard let last = events.last else {
            return VoxError.engineFailure("The execution plan for \(plan.model) has no entries: nothing can run it.")
        }
        return VoxError.engineFailure(
            "Every way to run \(plan.model) failed (\(plan.entries.count) plan entries); the last, \(last.entryLabel), failed because \(last.reason). Run `voxserve doctor` to check the model files and the hardware.",
            detail: detail
        )
    }
}

/// What the optimizer decided and what happened since: for `voxserve doctor`, `/metrics` and logs.
public struct OptimizationReport: Sendable, Equatable, Codable {
    public var plan: ExecutionPlan
    /// Index of the entry requests run on; nil once every entry has failed.
    public var activeEntryIndex: Int?
    /// True when the active engine has been built.
    public var engineLoaded: Bool
    public var fallbacks: [FallbackEvent]
    /// Seconds the warm-up took (building engines and the first synthesis, fallbacks included);
    /// nil before `prepare()` has finished.
    public var warmUpSeconds: Double?

    public init(plan: ExecutionPlan, activeEntryIndex: Int?, engineLoaded: Bool, fallbacks: [FallbackEvent], warmUpSeconds: Double?) {
        self.plan = plan
        self.activeEntryIndex = activeEntryIndex
        self.engineLoaded = engineLoaded
        self.fallbacks = fallbacks
        self.warmUpSeconds = warmUpSeconds
    }

    public var activeEntry: PlanEntry? { activeEntryIndex.map { plan.entries[$0] } }

    /// True when every plan entry has failed.
    public var exhausted: Bool { activeEntryIndex == nil }
}

/// When a plan entry has failed: the pure rules `OptimizedSynthesizer` follows.
public enum FallbackPolicy {
    /// Errors that say the engine (its provider, precision or session) failed, which another entry
    /// may not. Errors about the request itself (bad text, unknown voice, unusable reference audio,
    /// a busy server) would fail on every entry and go straight back to the caller. An error that is
    /// no `VoxError` comes from inside an engine and counts as its failure. Cancellation never does.
    public static func isEngineFailure(_ error: any Error) -> Bool {
        if error is CancellationError { return false }
        guard let vox = error as? VoxError else { return true }
        switch vox.kind {
        case .engineFailure, .invalidModel, .modelNotFound, .unsupported: return true
        case .invalidInput, .unknownVoice, .invalidAudio, .io, .unavailable, .conflict, .storageFull, .gone, .engineNotInstalled: return false
        }
    }

    /// Why `audio` cannot be handed out, or nil when it can: NaN or infinite samples (fp16 overflow
    /// is the usual cause), or silence, which a working TTS engine never produces for real text.
    public static func problem(with audio: AudioBuffer) -> String? {
        if !audio.isFinite {
            let bad = audio.samples.lazy.filter { !$0.isFinite }.count
            return "the audio has \(bad) non-finite sample\(bad == 1 ? "" : "s") (NaN or infinity) of \(audio.samples.count)"
        }
        if audio.isSilent() {
            return audio.isEmpty ? "the audio is empty" : "the audio is silent (peak \(audio.peak))"
        }
        return nil
    }

    /// One line for an error, for reports and logs.
    public static func describe(_ error: any Error) -> String {
        if let vox = error as? VoxError {
            return vox.detail.map { "\(vox.message) (\($0))" } ?? vox.message
        }
        return String(describing: error)
    }
}

/// One move from a plan entry to the next, and why.
public struct FallbackEvent: Sendable, Equatable, Codable {
    /// Index in the plan of the entry that failed.
    public var entryIndex: Int
    /// That entry's label, for example "cuda:0 fp16".
    public var entryLabel: String
    public var stage: FallbackStage
    public var reason: String
    public var date: Date

    public init(entryIndex: Int, entryLabel: String, stage: FallbackStage, reason: String, date: Date = Date()) {
        self.entryIndex = entryIndex
        self.entryLabel = entryLabel
        self.stage = stage
        self.reason = reason
        self.date = date
    }
}

/// Where a plan entry failed.
public enum FallbackStage: String, Sendable, Hashable, Codable {
    /// Building the engine (loading sessions) failed.
    case load
    /// The warm-up synthesis at start failed or gave unusable audio.
    case warmUp = "warm_up"
    /// A request's synthesis failed or gave unusable audio.
    case synthesis
    /// A streamed request failed or gave unusable audio.
    case stream
}
