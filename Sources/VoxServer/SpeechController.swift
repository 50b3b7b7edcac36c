import Foundation
import Hummingbird
import NIOCore
import Logging
import VoxAudio
import VoxCore
import VoxRuntime

/// `POST /v1/audio/speech`: OpenAI-compatible text to speech, whole or streamed.
struct SpeechController<Context: RequestContext>: Sendable {
    let service: any SpeechService
    let queue: SynthesisQueue
    let metrics: ServerMetrics
    let configuration: ServerConfiguration

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("audio/speech", use: speech)
    }

    /// What a validated request asks for.
    struct Job: Sendable {
        var request: SynthesisRequest
        var format: AudioFormat
        var stream: Bool
        var accepted: ContinuousClock.Instant
        var deadline: ContinuousClock.Instant
    }

    @Sendable func speech(request: Request, context: Context) async throws -> Response {
        let accepted = ContinuousClock.now
        let maxBody = configuration.maxTextLength * 4 + 64 * 1024
        let tooLarge = APIError.tooLarge(
            "The request body is larger than \(maxBody / 1024) KiB; a speech request carries at most \(configuration.maxTextLength) characters of text. Split the text into several requests.")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBody { throw tooLarge }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBody)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
        let body = try SpeechRequestBody.decode(buffer.data)
        let job = try await validate(body, accepted: accepted)

        let permit = try await queue.permit(
            until: job.deadline, timeout: configuration.requestTimeout, retryAfter: configuration.retryAfterSeconds, metrics: metrics)
        let queueTime = ContinuousClock.now - accepted
        var logger = context.logger
        logger[metadataKey: "vox.voice"] = "\(job.request.voice ?? "default")"
        if job.stream {
            return try await streamed(job, permit: permit, queueTime: queueTime, logger: logger)
        }
        defer { permit.release() }
        return try await whole(job, queueTime: queueTime, logger: logger)
    }

    /// Checks the body's fields and maps them onto a `SynthesisRequest`.
    func validate(_ body: SpeechRequestBody, accepted: ContinuousClock.Instant) async throws -> Job {
        if let model = body.model, !model.isEmpty, !SpeechRequestBody.openAIModels.contains(model) {
            let models = try await service.models()
            guard models.contains(where: { $0.id == model }) else {
                throw APIError.notFound(
                    "Unknown model '\(model.prefix(64))'. Use one of \((models.map(\.id) + SpeechRequestBody.openAIModels.sorted()).joined(separator: ", ")).",
                    code: .modelNotFound)
            }
        }
        // Resolved once, by the service's voice registry (OpenAI's names such as "alloy" included);
        // here only a name that could never be a voice is answered, with the field it came in.
        let voice = body.voice.flatMap { $0.isEmpty ? nil : $0 }
        if let voice { try RequestVoiceName.validate(voice) }
        let format = try SpeechEncoding.format(named: body.responseFormat)
        let stream = body.stream ?? false
        if stream && !SpeechEncoding.canStream(format) {
            throw APIError.badRequest(
                "stream: true sends wav or pcm; \(format.name) is only sent whole (stream: false).",
                code: .unsupportedStreamFormat, param: "response_format")
        }
        if let speed = body.speed, !speed.isFinite {
            throw APIError.badRequest("speed must be a number between 0.25 and 4.", param: "speed")
        }
        let synthesis = SynthesisRequest(
            text: body.input, voice: voice, speakerID: body.speakerID, lengthScale: body.lengthScale,
            noiseScale: body.noiseScale, noiseW: body.noiseW, speed: Float(body.speed ?? 1), seed: body.seed)
        try synthesis.validate(maxTextLength: configuration.maxTextLength)
        return Job(
            request: synthesis, format: format, stream: stream, accepted: accepted,
            deadline: accepted + configuration.requestTimeout)
    }

    /// Synthesizes everything, then answers with one encoded file.
    func whole(_ job: Job, queueTime: Duration, logger: Logger) async throws -> Response {
        let service = self.service
        let started = ContinuousClock.now
        let (speech, audio, conditioning) = try await timed(job) {
            let speech = try await service.speak(job.request, streaming: false)
            var audio = AudioBuffer(samples: [], sampleRate: speech.sampleRate)
            var conditioning: ConditioningCacheOutcome?
            for try await chunk in speech.chunks {
                if audio.isEmpty { conditioning = chunk.conditioning }
                audio.append(chunk.audio)
            }
            return (speech, audio, conditioning)
        }
        let synthesisTime = (ContinuousClock.now - started).seconds
        guard !audio.isEmpty else { throw VoxError.engineFailure("The engine produced no audio for this text.") }
        let data = try await offload { try SpeechEncoding.encode(audio, as: job.format) }
        let rtf = synthesisTime / max(audio.duration, 1e-9)
        metrics.recordSynthesis(voice: speech.voice, audioSeconds: audio.duration, wallSeconds: synthesisTime, timeToFirstAudio: nil, cache: conditioning, streamed: false)
        logger.info("speech", metadata: ["vox.rtf": "\(rtf.formatted(decimals: 3))", "vox.audio_s": "\(audio.duration.formatted(decimals: 2))"])

        var headers = self.headers(for: speech, conditioning: conditioning, format: job.format, queueTime: queueTime)
        headers[.contentLength] = String(data.count)
        headers[.voxRTF] = rtf.formatted(decimals: 4)
        headers[.voxSynthesisTime] = synthesisTime.formatted(decimals: 3)
        headers[.voxAudioDuration] = audio.duration.formatted(decimals: 3)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Answers as soon as the first sentence is ready and sends each following one as it finishes.
    /// Errors before the first audio are ordinary error responses; after it, the stream is cut
    /// short (the client sees a truncated chunked body) and the error is logged.
    func streamed(_ job: Job, permit: SynthesisQueue.Permit, queueTime: Duration, logger: Logger) async throws -> Response {
        let service = self.service
        let metrics = self.metrics
        let timeout = configuration.requestTimeout
        let started = ContinuousClock.now
        let speech: SpeechStream
        do {
            speech = try await timed(job) { try await service.speak(job.request, streaming: true) }
        } catch {
            permit.release()
            throw error
        }

        let (bytes, output) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let firstAudio = OneShot<FirstAudio>()
        let pump = Task {
            defer { permit.release() }
            do {
                let audioSeconds = try await withDeadline(job.deadline, timeout: timeout) {
                    var first = true
                    var audioSeconds = 0.0
                    for try await chunk in speech.chunks {
                        var data = first ? SpeechEncoding.streamHeader(job.format, sampleRate: chunk.audio.sampleRate) : Data()
                        data.append(try SpeechEncoding.streamChunk(chunk.audio, as: job.format))
                        output.yield(ByteBuffer(bytes: data))
                        if first {
                            firstAudio.resolve(.success(FirstAudio(seconds: (ContinuousClock.now - job.accepted).seconds, conditioning: chunk.conditioning)))
                            first = false
                        }
                        audioSeconds += chunk.audio.duration
                    }
                    return audioSeconds
                }
                guard firstAudio.isResolved else { throw VoxError.engineFailure("The engine produced no audio for this text.") }
                let wall = (ContinuousClock.now - started).seconds
                let rtf = wall / max(audioSeconds, 1e-9)
                let first = try? await firstAudio.value
                // Counted before the body ends, so a client that reads /metrics next sees this request.
                metrics.recordSynthesis(
                    voice: speech.voice, audioSeconds: audioSeconds, wallSeconds: wall,
                    timeToFirstAudio: first?.seconds, cache: first?.conditioning, streamed: true)
                output.finish()
                logger.info("speech stream", metadata: ["vox.rtf": "\(rtf.formatted(decimals: 3))", "vox.audio_s": "\(audioSeconds.formatted(decimals: 2))"])
            } catch {
                if (error as? APIError)?.code == .timeout { metrics.recordTimeout() }
                if firstAudio.isResolved {
                    logger.error("stream cut short after its first audio", metadata: ["vox.error": "\(error)"])
                }
                firstAudio.resolve(.failure(error))
                output.finish(throwing: error)
            }
        }
        output.onTermination = { termination in
            if case .cancelled = termination { pump.cancel() }
        }

        let first: FirstAudio
        do {
            first = try await withTaskCancellationHandler {
                try await firstAudio.value
            } onCancel: {
                pump.cancel()
            }
        } catch {
            pump.cancel()
            throw error
        }

        var headers = self.headers(for: speech, conditioning: first.conditioning, format: job.format, queueTime: queueTime)
        headers[.voxTimeToFirstAudio] = first.seconds.formatted(decimals: 3)
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                for try await buffer in bytes {
                    try await writer.write(buffer)
                }
                try await writer.finish(nil)
            })
    }

    /// Runs `operation` under the job's deadline.
    private func timed<T: Sendable>(_ job: Job, _ operation: @Sendable @escaping () async throws -> T) async throws -> T {
        do {
            return try await withDeadline(job.deadline, timeout: configuration.requestTimeout, operation)
        } catch let error as APIError where error.code == .timeout {
            metrics.recordTimeout()
            throw error
        }
    }

    /// When the first audio of a streamed request was ready, and how its voice was conditioned.
    struct FirstAudio: Sendable {
        var seconds: Double
        var conditioning: ConditioningCacheOutcome?
    }

    private func headers(for speech: SpeechStream, conditioning: ConditioningCacheOutcome?, format: AudioFormat, queueTime: Duration) -> HTTPFields {
        var headers: HTTPFields = [:]
        headers[.contentType] = SpeechEncoding.contentType(format)
        headers[.voxVoice] = speech.voice.headerSafe
        headers[.voxCache] = CacheHeader.value(conditioning)
        headers[.voxModel] = speech.warm ? "warm" : "cold"
        headers[.voxPlan] = speech.plan.headerSafe
        headers[.voxSampleRate] = String(SpeechEncoding.outputSampleRate(format, sourceRate: speech.sampleRate))
        headers[.voxQueueTime] = queueTime.seconds.formatted(decimals: 3)
        headers[.accessControlExposeHeaders] = "X-Vox-Voice, X-Vox-RTF, X-Vox-Cache, X-Vox-Model, X-Vox-Plan, X-Vox-Time-To-First-Audio, X-Vox-Synthesis-Time, X-Vox-Audio-Duration, X-Vox-Sample-Rate, X-Vox-Queue-Time"
        return headers
    }
}

/// Runs `operation`, throwing `APIError.timeout` when it has not finished by `deadline`.
/// The operation is cancelled then, and this returns once it has stopped.
func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant, timeout: Duration, _ operation: @Sendable @escaping () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Optional<T>.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            return nil
        }
        defer { group.cancelAll() }
        guard case .some(.some(let value)) = try await group.next() else {
            throw APIError.timeout(after: timeout)
        }
        return value
    }
}

/// A value (or error) set once by one task and awaited by another.
///
/// Thread safety: `lock` guards `result` and `waiters`; continuations resume outside it.
final class OneShot<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, any Error>?
    private var waiters: [CheckedContinuation<Value, any Error>] = []

    /// Sets the result; later calls are ignored.
    func resolve(_ result: Result<Value, any Error>) {
        let toResume: [CheckedContinuation<Value, any Error>] = lock.withLock {
            guard self.result == nil else { return [] }
            self.result = result
            defer { waiters = [] }
            return waiters
        }
        for waiter in toResume { waiter.resume(with: result) }
    }

    var isResolved: Bool { lock.withLock { result != nil } }

    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<Value, any Error>? = lock.withLock {
                    if let result { return result }
                    waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }
}
