import Logging
import VoxCore

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
            if yielded == 0 && problem == nil { problem = "the stream ended without audio" }
        } catch {
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
