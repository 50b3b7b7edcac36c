import Foundation
import Hummingbird
import NIOCore
import Logging
import VoxAudio
import VoxCore
import VoxRuntime

/// `POST /v1/audio/speech`: OpenAI-compatible text to speech.
///
/// Every format streams by default, as OpenAI's responses do: the answer starts with the first
/// sentence's audio and each following sentence is sent as it finishes (`StreamingAudioEncoder`).
/// `stream: false` (an extension) buffers the whole file and adds `Content-Length` and the timing
/// headers. `stream_format: "sse"` sends OpenAI's events instead of raw bytes: one
/// `speech.audio.delta` per sentence (base64 of that sentence's bytes in the chosen format; the
/// last also carries the encoder's tail), then `speech.audio.done` with `usage`.
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
        var delivery: Delivery
        /// Fields accepted but without effect, for `X-Vox-Ignored`.
        var ignored: [String]
        var accepted: ContinuousClock.Instant
        var deadline: ContinuousClock.Instant
    }

    enum Delivery: Sendable, Equatable {
        /// One encoded file, sent when complete.
        case whole
        /// Raw encoded bytes, each sentence as it is ready.
        case stream
        /// OpenAI's server-sent events.
        case events
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
        if job.delivery == .whole {
            defer { permit.release() }
            return try await whole(job, queueTime: queueTime, logger: logger)
        }
        return try await streamed(job, permit: permit, queueTime: queueTime, logger: logger)
    }

    /// Checks the body's fields and maps them onto a `SynthesisRequest`.
    func validate(_ body: SpeechRequestBody, accepted: ContinuousClock.Instant) async throws -> Job {
        var engine: String?
        if let model = body.model, !model.isEmpty, !SpeechRequestBody.openAIModels.contains(model) {
            let models = try await service.models()
            guard models.contains(where: { $0.id == model }) else {
                throw APIError.notFound(
                    "Unknown model '\(model.prefix(64))'. Use one of \((models.map(\.id) + SpeechRequestBody.openAIModels).joined(separator: ", ")).",
                    code: .modelNotFound)
            }
            engine = model
        }
        // Resolved once, by the service's voice registry (OpenAI's names such as "alloy" included);
        // here only a name that could never be a voice is answered, with the field it came in.
        let voice = body.voice.flatMap { $0.name.isEmpty ? nil : $0.name }
        if let voice { try RequestVoiceName.validate(voice) }
        let format = try SpeechEncoding.format(named: body.responseFormat)
        let delivery: Delivery
        switch body.streamFormat?.lowercased() {
        case nil, "audio": delivery = body.stream == false ? .whole : .stream
        case "sse": delivery = .events
        default:
            throw APIError.badRequest(
                "stream_format must be \"audio\" (raw audio, the default) or \"sse\" (server-sent events), not '\(body.streamFormat!.prefix(40))'.",
                code: .unsupportedStreamFormat, param: "stream_format")
        }
        if delivery == .events && body.stream == false {
            throw APIError.badRequest(
                "stream_format \"sse\" always streams; leave out stream: false.", code: .unsupportedStreamFormat, param: "stream")
        }
        if let speed = body.speed, !speed.isFinite {
            throw APIError.badRequest("speed must be a number between 0.25 and 4.", param: "speed")
        }
        let synthesis = SynthesisRequest(
            text: body.input, voice: voice, speakerID: body.speakerID, lengthScale: body.lengthScale,
            noiseScale: body.noiseScale, noiseW: body.noiseW, speed: Float(body.speed ?? 1), seed: body.seed, engine: engine)
        try synthesis.validate(maxTextLength: configuration.maxTextLength)
        let ignored = (body.instructions?.isEmpty ?? true) ? [] : ["instructions"]
        return Job(
            request: synthesis, format: format, delivery: delivery, ignored: ignored, accepted: accepted,
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

        var headers = self.headers(for: speech, job: job, conditioning: conditioning, queueTime: queueTime)
        headers[.voxSampleRate] = String(SpeechEncoding.outputSampleRate(job.format, sourceRate: speech.sampleRate))
        headers[.contentLength] = String(data.count)
        headers[.voxRTF] = rtf.formatted(decimals: 4)
        headers[.voxSynthesisTime] = synthesisTime.formatted(decimals: 3)
        headers[.voxAudioDuration] = audio.duration.formatted(decimals: 3)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Answers as soon as the first sentence is ready and sends each following one as it finishes.
    /// Errors before the first audio are ordinary error responses; after it, a raw stream is cut
    /// short (the client sees a truncated chunked body) and an event stream ends with an `error`
    /// event; either way the error is logged.
    func streamed(_ job: Job, permit: SynthesisQueue.Permit, queueTime: Duration, logger: Logger) async throws -> Response {
        let service = self.service
        let metrics = self.metrics
        let timeout = configuration.requestTimeout
        let started = ContinuousClock.now
        let speech: SpeechStream
        let encoder: StreamingAudioEncoder
        do {
            speech = try await timed(job) { try await service.speak(job.request, streaming: true) }
            encoder = try StreamingAudioEncoder(format: job.format, sourceRate: speech.sampleRate)
        } catch {
            permit.release()
            throw error
        }
        let events = job.delivery == .events
        let inputCharacters = job.request.text.count

        let (bytes, output) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let firstAudio = OneShot<FirstAudio>()
        let pump = Task {
            defer { permit.release() }
            do {
                let audioSeconds = try await withDeadline(job.deadline, timeout: timeout) {
                    var audioSeconds = 0.0
                    var finished = false
                    for try await chunk in speech.chunks {
                        var data = try encoder.encode(chunk.audio)
                        if chunk.isLast {
                            data.append(try encoder.finish())
                            finished = true
                        }
                        output.yield(ByteBuffer(bytes: events ? SpeechEvents.delta(data) : data))
                        if !firstAudio.isResolved {
                            firstAudio.resolve(.success(FirstAudio(seconds: (ContinuousClock.now - job.accepted).seconds, conditioning: chunk.conditioning)))
                        }
                        audioSeconds += chunk.audio.duration
                    }
                    if !finished, firstAudio.isResolved {
                        let tail = try encoder.finish()
                        if !tail.isEmpty { output.yield(ByteBuffer(bytes: events ? SpeechEvents.delta(tail) : tail)) }
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
                if events { output.yield(ByteBuffer(bytes: SpeechEvents.done(inputCharacters: inputCharacters, audioSeconds: audioSeconds))) }
                output.finish()
                logger.info("speech stream", metadata: ["vox.rtf": "\(rtf.formatted(decimals: 3))", "vox.audio_s": "\(audioSeconds.formatted(decimals: 2))"])
            } catch {
                if (error as? APIError)?.code == .timeout { metrics.recordTimeout() }
                if firstAudio.isResolved {
                    logger.error("stream cut short after its first audio", metadata: ["vox.error": "\(error)"])
                    if events { output.yield(ByteBuffer(bytes: SpeechEvents.error(error))) }
                }
                firstAudio.resolve(.failure(error))
                if events { output.finish() } else { output.finish(throwing: error) }
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

        var headers = self.headers(for: speech, job: job, conditioning: first.conditioning, queueTime: queueTime)
        headers[.voxSampleRate] = String(encoder.outputRate)
        headers[.voxTimeToFirstAudio] = first.seconds.formatted(decimals: 3)
        headers[.cacheControl] = "no-store"
        if events { headers[.contentType] = "text/event-stream" }
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

    private func headers(for speech: SpeechStream, job: Job, conditioning: ConditioningCacheOutcome?, queueTime: Duration) -> HTTPFields {
        var headers: HTTPFields = [:]
        headers[.contentType] = SpeechEncoding.contentType(job.format)
        headers[.voxVoice] = speech.voice.headerSafe
        headers[.voxCache] = CacheHeader.value(conditioning)
        headers[.voxModel] = speech.warm ? "warm" : "cold"
        headers[.voxPlan] = speech.plan.headerSafe
        headers[.voxQueueTime] = queueTime.seconds.formatted(decimals: 3)
        if !job.ignored.isEmpty { headers[.voxIgnored] = job.ignored.joined(separator: ", ") }
        headers[.accessControlExposeHeaders] = "X-Vox-Voice, X-Vox-RTF, X-Vox-Cache, X-Vox-Model, X-Vox-Plan, X-Vox-Time-To-First-Audio, X-Vox-Synthesis-Time, X-Vox-Audio-Duration, X-Vox-Sample-Rate, X-Vox-Queue-Time, X-Vox-Ignored"
        return headers
    }
}

/// OpenAI's speech events (`stream_format: "sse"`), each a `data:` line and a blank line.
enum SpeechEvents {
    static func delta(_ audio: Data) -> Data {
        event(#"{"type":"speech.audio.delta","audio":"\#(audio.base64EncodedString())"}"#)
    }

    /// `usage` counts the input's characters as its tokens, and the audio in 40 ms frames (the
    /// rate of Chatterbox's speech tokens, 25 per second) as the output's.
    static func done(inputCharacters: Int, audioSeconds: Double) -> Data {
        let output = Int((audioSeconds * 25).rounded())
        return event(
            #"{"type":"speech.audio.done","usage":{"input_tokens":\#(inputCharacters),"output_tokens":\#(output),"total_tokens":\#(inputCharacters + output)}}"#)
    }

    /// An error after the stream began: the `error` object an error response carries, typed `error`.
    static func error(_ error: any Error) -> Data {
        struct ErrorEvent: Encodable {
            var type = "error"
            var error: APIError.Body.Detail
        }
        let api = ((error as? APIError) ?? (error as? VoxError)?.apiError
            ?? APIError(.internalServerError, type: .server, code: .internalError, message: "Synthesis failed.")).redacted()
        let detail = APIError.Body.Detail(message: api.message, type: api.type.rawValue, param: api.param, code: api.code.rawValue)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(ErrorEvent(error: detail))) ?? Data(#"{"type":"error"}"#.utf8)
        return event(String(decoding: json, as: UTF8.self))
    }

    private static func event(_ json: String) -> Data {
        Data("data: \(json)\n\n".utf8)
    }
}

/// Runs `operation`, throwing `APIError.timeout` when it has not finished by `deadline`.
/// The operation is cancelled then, and this returns once it has stopped.
func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant, timeout: Duration, _ operation: @Sendable @escaping () async throws -> T
) async throws -> T {
    guard let value = try await untilDeadline(deadline, operation) else { throw APIError.timeout(after: timeout) }
    return value
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
