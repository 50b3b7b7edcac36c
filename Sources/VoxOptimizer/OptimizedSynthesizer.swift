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
    /// What failures are retried before an entry is retired, and for how long.
    public let retryPolicy: RetryPolicy
    /// Replaces the warm-up synthesis (`warmUpRequest`) for engines that cannot speak without more
    /// than text (Chatterbox needs a voice): run on the built engine by `prepare()`.
    public typealias WarmUp = @Sendable (any SpeechSynthesizer) async throws -> Void
    private let customWarmUp: WarmUp?

    public init(
        plan: ExecutionPlan, warmUpRequest: SynthesisRequest = SynthesisRequest(text: "Hello. This is a warm-up."),
        retryPolicy: RetryPolicy = RetryPolicy(), warmUp: WarmUp? = nil, measurementClock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "vox.optimizer"), factory: @escaping EngineFactory
    ) {
        self.plan = plan
        self.warmUpRequest = warmUpRequest
        self.retryPolicy = retryPolicy
        self.customWarmUp = warmUp
        let info = Locked(SynthesizerInfo(engine: "pending", voice: plan.model, sampleRate: 0))
        self.currentInfo = info
        self.state = OptimizerState(
            plan: plan, factory: factory, info: info, retryPolicy: retryPolicy, measurementClock: measurementClock, logger: logger)
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
        if let candidates = plan.measuredAtWarmUp, customWarmUp == nil {
            await state.measure(candidates: candidates, request: warmUpRequest)
        }
        if let customWarmUp {
            while true {
                let (index, engine) = try await state.activeEngine()
                do {
                    try await customWarmUp(engine)
                    break
                } catch {
                    guard FallbackPolicy.isEngineFailure(error) else { throw error }
                    await state.recordFailure(entryIndex: index, stage: .warmUp, reason: FallbackPolicy.describe(error), kind: FallbackPolicy.kind(of: error))
                }
            }
        } else {
            _ = try await synthesize(warmUpRequest, stage: .warmUp)
        }
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
        var transientRetries = 0
        while true {
            try Task.checkCancellation()
            let (index, engine) = try await state.activeEngine()
            let audio: AudioBuffer
            do {
                audio = try await engine.synthesize(request)
            } catch {
                guard FallbackPolicy.isEngineFailure(error) else { throw error }
                let kind = FallbackPolicy.kind(of: error)
                // A transient failure (out of memory) is tried again on the same entry first.
                if kind == .transient, transientRetries < retryPolicy.retriesOnSameEntry {
                    transientRetries += 1
                    await state.noteRetry(entryIndex: index, reason: FallbackPolicy.describe(error))
                    try await Task.sleep(for: retryPolicy.retryDelay * transientRetries)
                    continue
                }
                transientRetries = 0
                await state.recordFailure(entryIndex: index, stage: stage, reason: FallbackPolicy.describe(error), kind: kind)
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
            await state.recordFailure(entryIndex: index, stage: .stream, reason: FallbackPolicy.describe(error), kind: FallbackPolicy.kind(of: error))
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
    private let retryPolicy: RetryPolicy
    /// What the warm-up measurement times with (a test's own clock makes it independent of load).
    private let measurementClock: any Clock<Duration>

    /// The entry requests run on; `plan.entries.count` once all have failed.
    private var activeIndex = 0
    /// An entry retired by a transient failure, to be tried again once `after` has passed.
    private var restore: (index: Int, after: ContinuousClock.Instant)?
    private var retries = 0
    private var measurement: WarmUpMeasurement?
    private var placements: [String: SessionPlacement] = [:]
    private var engine: (index: Int, synthesizer: any SpeechSynthesizer)?
    /// An engine being built, shared by the requests that arrive meanwhile so it is built once.
    private var loading: (index: Int, task: Task<any SpeechSynthesizer, any Error>)?
    private var events: [FallbackEvent] = []
    private var warmUpSeconds: Double?

    init(
        plan: ExecutionPlan, factory: @escaping OptimizedSynthesizer.EngineFactory, info: Locked<SynthesizerInfo>, retryPolicy: RetryPolicy,
        measurementClock: any Clock<Duration>, logger: Logger
    ) {
        self.plan = plan
        self.factory = factory
        self.info = info
        self.retryPolicy = retryPolicy
        self.measurementClock = measurementClock
        self.logger = logger
    }

    /// Times the warm-up request on each candidate entry (one untimed run first: the first run on
    /// CUDA pays for kernel selection and library start-up), then makes the fastest the active
    /// entry. A candidate that fails is left out. The planned entry keeps its place unless another
    /// is clearly faster (`WarmUpMeasurement.choose`).
    func measure(candidates: [Int], request: SynthesisRequest) async {
        var timings: [WarmUpMeasurement.Timing] = []
        var built: [Int: any SpeechSynthesizer] = [:]
        for index in candidates where index < plan.entries.count {
            let entry = plan.entries[index]
            do {
                let engine = try await factory(entry)
                _ = try await engine.synthesize(request)
                var best = Double.infinity
                for _ in 0..<2 {
                    var audio = AudioBuffer(samples: [], sampleRate: 0)
                    let elapsed = try await measurementClock.measure { audio = try await engine.synthesize(request) }
                    if let problem = FallbackPolicy.problem(with: audio) { throw VoxError.engineFailure(problem) }
                    best = min(best, elapsed.seconds)
                }
                timings.append(WarmUpMeasurement.Timing(entryIndex: index, entryLabel: entry.label, seconds: best, error: nil))
                built[index] = engine
            } catch {
                timings.append(WarmUpMeasurement.Timing(entryIndex: index, entryLabel: entry.label, seconds: nil, error: FallbackPolicy.describe(error)))
            }
        }
        guard let chosen = WarmUpMeasurement.choose(timings) else {
            measurement = WarmUpMeasurement(timings: timings, chosenIndex: nil)
            return
        }
        measurement = WarmUpMeasurement(timings: timings, chosenIndex: chosen)
        activeIndex = chosen
        if let engine = built[chosen] { adopt(engine, index: chosen) }
        logger.info("measured at warm-up", metadata: ["vox.plan.measurement": "\(measurement!.summary)"])
    }

    private func adopt(_ synthesizer: any SpeechSynthesizer, index: Int) {
        engine = (index, synthesizer)
        info.set(synthesizer.info)
        placements = (synthesizer as? SessionPlacementReporting)?.sessionPlacements ?? [:]
        let entry = plan.entries[index]
        for (graph, placement) in placements where entry.provider == .cuda && placement.nodes(on: .cpu) > 0 {
            logger.warning(
                "CUDA session runs part of its graph on the CPU",
                metadata: ["vox.graph": "\(graph)", "vox.placement": "\(placement.summary)", "vox.plan.label": "\(entry.label)"])
        }
        logger.info("engine ready", metadata: ["vox.plan.entry": "\(index)", "vox.plan.label": "\(entry.label)"])
    }

    func noteRetry(entryIndex: Int, reason: String) {
        retries += 1
        logger.warning("transient failure, trying the same plan entry again", metadata: ["vox.plan.entry": "\(entryIndex)", "vox.plan.reason": "\(reason)"])
    }

    /// The engine of the active entry, built on first use. An entry whose engine cannot be built is
    /// recorded and skipped. Throws when no entry is left.
    func activeEngine() async throws -> (index: Int, synthesizer: any SpeechSynthesizer) {
        // An entry retired by a transient failure gets another chance once its cooldown is over.
        if let restore, restore.index < activeIndex, ContinuousClock.now >= restore.after {
            logger.info("trying a plan entry again after its transient failure", metadata: ["vox.plan.label": "\(plan.entries[restore.index].label)"])
            activeIndex = restore.index
            engine = nil
            self.restore = nil
        }
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
                adopt(synthesizer, index: index)
                return (index, synthesizer)
            } catch {
                if loading?.index == index { loading = nil }
                recordFailure(entryIndex: index, stage: .load, reason: FallbackPolicy.describe(error), kind: FallbackPolicy.kind(of: error))
            }
        }
        throw exhaustedError()
    }

    /// Retires entry `entryIndex` (when it is still the active one: several requests may see the
    /// same failure) and moves to the next.
    func recordFailure(entryIndex: Int, stage: FallbackStage, reason: String, kind: FailureKind = .persistent) {
        guard entryIndex == activeIndex, entryIndex < plan.entries.count else { return }
        let label = plan.entries[entryIndex].label
        var event = FallbackEvent(entryIndex: entryIndex, entryLabel: label, stage: stage, reason: reason)
        event.kind = kind
        if kind == .transient, restore == nil || restore!.index > entryIndex {
            // Not for the life of the process: after the cooldown the entry is tried again.
            restore = (entryIndex, ContinuousClock.now + retryPolicy.cooldown)
            event.retryAfterSeconds = retryPolicy.cooldown.seconds
        }
        events.append(event)
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
        var report = OptimizationReport(
            plan: plan, activeEntryIndex: activeIndex < plan.entries.count ? activeIndex : nil,
            engineLoaded: engine != nil, fallbacks: events, warmUpSeconds: warmUpSeconds
        )
        report.measurement = measurement
        report.placements = engine != nil && !placements.isEmpty ? placements : nil
        report.transientRetries = retries
        return report
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
    /// The warm-up measurement between CUDA and the CPU, when the plan asked for one.
    public var measurement: WarmUpMeasurement?
    /// Where ONNX Runtime placed the active engine's nodes, per graph (CUDA entries record it).
    public var placements: [String: SessionPlacement]?
    /// Transient failures retried on the same entry so far.
    public var transientRetries: Int?

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

/// Whether a failure may pass by itself.
public enum FailureKind: String, Sendable, Hashable, Codable {
    /// Out of memory and the like: another request (or this one, a moment later) may succeed.
    case transient
    /// The entry cannot work here (no kernel image for this GPU, a missing library, a broken graph).
    case persistent
}

/// How `OptimizedSynthesizer` treats transient failures: retried on the same entry, and an entry
/// they retire anyway is tried again after a cooldown.
public struct RetryPolicy: Sendable, Equatable {
    public var retriesOnSameEntry: Int
    /// The pause before the first retry; the n-th waits n times as long.
    public var retryDelay: Duration
    public var cooldown: Duration

    public init(retriesOnSameEntry: Int = 2, retryDelay: Duration = .milliseconds(100), cooldown: Duration = .seconds(60)) {
        self.retriesOnSameEntry = retriesOnSameEntry
        self.retryDelay = retryDelay
        self.cooldown = cooldown
    }
}

/// The warm-up race between plan entries (Piper on CUDA against the CPU) and its outcome.
public struct WarmUpMeasurement: Sendable, Equatable, Codable {
    public struct Timing: Sendable, Equatable, Codable {
        public var entryIndex: Int
        public var entryLabel: String
        /// The best of the timed runs; nil when the entry failed.
        public var seconds: Double?
        public var error: String?

        public init(entryIndex: Int, entryLabel: String, seconds: Double?, error: String?) {
            self.entryIndex = entryIndex
            self.entryLabel = entryLabel
            self.seconds = seconds
            self.error = error
        }
    }

    public var timings: [Timing]
    public var chosenIndex: Int?

    public init(timings: [Timing], chosenIndex: Int?) {
        self.timings = timings
        self.chosenIndex = chosenIndex
    }

    /// Another entry replaces the planned one (the first that worked) only when it is at least this
    /// much faster: timings of a few milliseconds are noisy, and the plan's order has its reasons.
    public static let margin = 0.9

    /// The entry to run first: the planned (first) working candidate unless another took at most
    /// `margin` of its time. Nil when none worked.
    public static func choose(_ timings: [Timing]) -> Int? {
        let working = timings.filter { $0.seconds != nil }
        guard let planned = working.first else { return nil }
        guard let fastest = working.min(by: { $0.seconds! < $1.seconds! }) else { return planned.entryIndex }
        return fastest.seconds! <= planned.seconds! * margin ? fastest.entryIndex : planned.entryIndex
    }

    /// "cuda:0 fp32 12.1 ms, cpu fp32 30.4 ms: cuda:0 fp32 runs first".
    public var summary: String {
        let parts = timings.map { t in t.seconds.map { String(format: "%@ %.1f ms", t.entryLabel, $0 * 1000) } ?? "\(t.entryLabel) failed (\(t.error ?? "?"))" }
        let chosen = timings.first { $0.entryIndex == chosenIndex }?.entryLabel
        return parts.joined(separator: ", ") + (chosen.map { ": \($0) runs first" } ?? ": none worked")
    }
}

/// When a plan entry has failed: the pure rules `OptimizedSynthesizer` follows.
public enum FallbackPolicy {
    /// Transient or persistent, from the error's words: ONNX Runtime and CUDA report running out of
    /// memory as text ("CUDA failure 2: out of memory", "Failed to allocate memory for requested
    /// buffer", "CUBLAS_STATUS_ALLOC_FAILED", BFC arena messages), and a busy device likewise.
    public static func kind(of error: any Error) -> FailureKind {
        let text = describe(error).lowercased()
        let transient = [
            "out of memory", "cuda_error_out_of_memory", "cudaerrormemoryallocation", "failed to allocate memory", "bfcarena",
            "alloc_failed", "cudaerrordevicesunavailable", "device busy", "all cuda-capable devices are busy",
        ]
        return transient.contains { text.contains($0) } ? .transient : .persistent
    }

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
    /// Transient failures retire their entry only for `retryAfterSeconds`.
    public var kind: FailureKind?
    public var retryAfterSeconds: Double?

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
