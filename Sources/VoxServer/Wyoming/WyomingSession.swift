import Foundation
import Logging
import VoxAudio
import VoxCore
import VoxRuntime

/// One Wyoming connection's conversation, apart from the socket: events in through `handle`,
/// events out through `send`. It shares the HTTP API's speech service, synthesis queue and metrics.
///
/// - `describe` → `info` (one `tts` program with every voice);
/// - `synthesize` → `audio-start`, `audio-chunk`s as sentences finish, `audio-stop`;
/// - `synthesize-start`, `synthesize-chunk`s, `synthesize-stop` → for each complete sentence its
///   own `audio-start` … `audio-stop` as soon as it is complete, then `synthesize-stopped`. The
///   `synthesize` that clients send inside such a session (for servers that do not stream) is
///   ignored, or the text would be spoken twice;
/// - `ping` → `pong`; any other event is ignored.
///
/// A request that fails is answered with an `error` event and `handle` throws `Close`: the
/// connection ends there, as wyoming-piper's does, so a client that reads until `audio-stop`
/// sees the end at once instead of waiting.
///
/// Not thread-safe: one connection's events are handled one after another.
final class WyomingSession {
    /// The connection should close (after an `error` event, or because the client is gone).
    struct Close: Error {}

    struct Settings: Sendable {
        var maxTextLength: Int
        var requestTimeout: Duration
        /// Seconds a busy server tells the client to wait (the HTTP API's `Retry-After`).
        var retryAfterSeconds = 2
        /// Samples per `audio-chunk` (wyoming-piper sends 1024).
        var samplesPerChunk = 1024
        var segmenter = TextSegmenter()
        /// The server's web page, given as the program's attribution link in `info`.
        var webPage = ""
    }

    /// A voice as a Wyoming client asks for it, resolved against the installed voices.
    struct Choice: Sendable, Equatable {
        var name: String?
        var speakerID: Int?
    }

    private let service: any SpeechService
    private let queue: SynthesisQueue
    private let metrics: ServerMetrics
    private let settings: Settings
    private let logger: Logger
    private let send: @Sendable (WyomingEvent) async throws -> Void

    /// Between `synthesize-start` and `synthesize-stop`: the voice, and text not yet spoken.
    private var streaming: (choice: Choice, pending: String)?

    init(
        service: any SpeechService, queue: SynthesisQueue, metrics: ServerMetrics, settings: Settings, logger: Logger,
        send: @escaping @Sendable (WyomingEvent) async throws -> Void
    ) {
        self.service = service
        self.queue = queue
        self.metrics = metrics
        self.settings = settings
        self.logger = logger
        self.send = send
    }

    func handle(_ event: WyomingEvent) async throws {
        do {
            switch event.type {
            case "describe":
                try await send(WyomingEvent(type: "info", encoding: WyomingInfo(voices: try await service.voices(), webPage: settings.webPage)))
            case "ping":
                let ping = (try? event.decode(Ping.self)) ?? Ping()
                try await send(WyomingEvent(type: "pong", encoding: ping))
            case "synthesize":
                guard streaming == nil else { return }  // the compatibility copy of a streamed text
                let synthesize = try event.decode(Synthesize.self)
                try Self.checkTextFormat(synthesize.textFormat)
                try await speak(synthesize.text, as: try await choose(synthesize.voice))
            case "synthesize-start":
                let start = try event.decode(SynthesizeStart.self)
                try Self.checkTextFormat(start.textFormat)
                streaming = (try await choose(start.voice), "")
            case "synthesize-chunk":
                guard let session = streaming else { return }
                let chunk = try event.decode(SynthesizeChunk.self)
                let (sentences, rest) = settings.segmenter.completeSentences(session.pending + chunk.text)
                streaming?.pending = rest
                for sentence in sentences { try await speak(sentence, as: session.choice) }
            case "synthesize-stop":
                guard let session = streaming else { return }
                streaming = nil
                for sentence in settings.segmenter.sentences(session.pending) { try await speak(sentence, as: session.choice) }
                try await send(WyomingEvent(type: "synthesize-stopped"))
            default:
                logger.debug("wyoming event ignored", metadata: ["vox.event": "\(event.type.prefix(64))"])
            }
        } catch let close as Close {
            throw close
        } catch {
            try await fail(error)
        }
    }

    /// Answers `error` with a sentence for the user (never an internal type or path) and ends the connection.
    private func fail(_ error: any Error) async throws -> Never {
        let (text, code): (String, String)
        switch error {
        case let error as VoxError:
            (text, code) = (error.apiError.redacted().message, error.apiError.code.rawValue)
        case let error as APIError:
            (text, code) = (error.redacted().message, error.code.rawValue)
        case let error as WyomingEventError:
            (text, code) = (error.description, APIError.Code.invalidRequest.rawValue)
        default:
            logger.error("wyoming request failed", metadata: ["vox.error": "\(error)"])
            (text, code) = ("Synthesis failed; the server's log says why.", APIError.Code.internalError.rawValue)
        }
        try? await send(WyomingEvent(type: "error", encoding: ErrorData(text: text, code: code)))
        throw Close()
    }

    private static func checkTextFormat(_ format: String?) throws {
        if let format, format != "text" {
            throw VoxError.invalidInput("text_format '\(format.prefix(32))' is not supported; send plain text (text_format \"text\").")
        }
    }

    /// The voice a `synthesize` asks for: by name (with a speaker by name or number), else the
    /// first voice of a language (the default voice first), else the default voice.
    func choose(_ voice: VoiceSelection?) async throws -> Choice {
        guard let voice else { return Choice() }
        if let name = voice.name, !name.isEmpty {
            try RequestVoiceName.validate(name)
            guard let speaker = voice.speaker, !speaker.isEmpty else { return Choice(name: name) }
            let speakers = try await service.voices().first { $0.id == name }?.speakers ?? []
            if let index = speakers.firstIndex(of: speaker) { return Choice(name: name, speakerID: index) }
            if let number = Int(speaker), number >= 0 { return Choice(name: name, speakerID: number) }
            throw VoxError.invalidInput(
                speakers.isEmpty
                    ? "Voice '\(name)' has a single speaker; leave out speaker '\(speaker.prefix(64))'."
                    : "Voice '\(name)' has no speaker '\(speaker.prefix(64))'; its speakers are \(speakers.prefix(20).joined(separator: ", ")).")
        }
        if let language = voice.language, !language.isEmpty {
            let voices = try await service.voices().filter(\.available)
            let matching = voices.filter { Self.language($0.language, matches: language) }
            guard let chosen = matching.first(where: \.isDefault) ?? matching.first else {
                let known = Set(voices.compactMap(\.language)).sorted().prefix(20).joined(separator: ", ")
                throw VoxError(
                    .unknownVoice,
                    "No installed voice speaks '\(language.prefix(32))'; the voices here speak \(known.isEmpty ? "no declared language" : known). Add a Piper voice for it (see the README).")
            }
            return Choice(name: chosen.id)
        }
        return Choice()
    }

    /// "en_US" matches "en-us", "en_US" and "en"; "en" matches every English voice.
    static func language(_ voiceLanguage: String?, matches asked: String) -> Bool {
        guard let voiceLanguage else { return false }
        func parts(_ s: String) -> [Substring] { s.lowercased().split(whereSeparator: { $0 == "_" || $0 == "-" }) }
        let (have, want) = (parts(voiceLanguage), parts(asked))
        guard let first = want.first, first == have.first else { return false }
        return want.count == 1 || have.count == 1 || want == have
    }

    /// Speaks `text` as one `audio-start` … `audio-stop`, holding a synthesis slot meanwhile.
    private func speak(_ text: String, as choice: Choice) async throws {
        let request = SynthesisRequest(text: text, voice: choice.name, speakerID: choice.speakerID)
        try request.validate(maxTextLength: settings.maxTextLength)
        let accepted = ContinuousClock.now
        let timeout = settings.requestTimeout
        let deadline = accepted + timeout
        let permit = try await queue.permit(until: deadline, timeout: timeout, retryAfter: settings.retryAfterSeconds, metrics: metrics)
        defer { permit.release() }

        let service = self.service
        let speech = try await withDeadline(deadline, timeout: timeout) { try await service.speak(request, streaming: true) }
        let format = AudioFormatData(rate: speech.sampleRate, width: 2, channels: 1)
        try await deliver(WyomingEvent(type: "audio-start", encoding: format))

        let send = self.send
        let samplesPerChunk = settings.samplesPerChunk
        let delivered = try await withDeadline(deadline, timeout: timeout) { () -> Delivered in
            var delivered = Delivered()
            for try await chunk in speech.chunks {
                let audio = chunk.audio.sampleRate == format.rate ? chunk.audio : try Resampler.resample(chunk.audio, to: format.rate)
                let pcm = WAVStream.pcm16(audio)
                for offset in stride(from: 0, to: pcm.count, by: samplesPerChunk * 2) {
                    let piece = pcm.subdata(in: offset..<min(offset + samplesPerChunk * 2, pcm.count))
                    do { try await send(WyomingEvent(type: "audio-chunk", encoding: format, payload: piece)) } catch { throw Close() }
                }
                if delivered.firstAudio == nil {
                    delivered.firstAudio = (ContinuousClock.now - accepted).seconds
                    delivered.conditioning = chunk.conditioning
                }
                delivered.audioSeconds += audio.duration
            }
            return delivered
        }
        metrics.recordSynthesis(
            voice: speech.voice, audioSeconds: delivered.audioSeconds, wallSeconds: (ContinuousClock.now - accepted).seconds,
            timeToFirstAudio: delivered.firstAudio, cache: delivered.conditioning, streamed: true)
        try await deliver(WyomingEvent(type: "audio-stop"))
    }

    /// What one `speak` sent, for the metrics.
    private struct Delivered: Sendable {
        var firstAudio: Double?
        var conditioning: ConditioningCacheOutcome?
        var audioSeconds = 0.0
    }

    /// Sends an event; a client that is gone ends the connection.
    private func deliver(_ event: WyomingEvent) async throws {
        do { try await send(event) } catch { throw Close() }
    }
}

// MARK: - Event data

/// `synthesize`'s and `synthesize-start`'s `voice`.
struct VoiceSelection: Codable, Sendable, Equatable {
    var name: String?
    var language: String?
    var speaker: String?
}

private struct Synthesize: Decodable {
    var text: String
    var voice: VoiceSelection?
    var textFormat: String?
    enum CodingKeys: String, CodingKey {
        case text, voice
        case textFormat = "text_format"
    }
}

private struct SynthesizeStart: Decodable {
    var voice: VoiceSelection?
    var textFormat: String?
    enum CodingKeys: String, CodingKey {
        case voice
        case textFormat = "text_format"
    }
}

private struct SynthesizeChunk: Decodable {
    var text: String
}

private struct Ping: Codable {
    var text: String?
}

/// `audio-start`'s and each `audio-chunk`'s data: rate in hertz, width in bytes, channels.
struct AudioFormatData: Codable, Sendable, Equatable {
    var rate: Int
    var width: Int
    var channels: Int
}

private struct ErrorData: Encodable {
    var text: String
    var code: String
}
