/// What every engine, and the optimizer that wraps one, offers the server, the CLI and the benchmark.
public protocol SpeechSynthesizer: Sendable {
    /// Stable description of the engine and voice behind this synthesizer.
    var info: SynthesizerInfo { get }

    /// Synthesizes the whole request.
    func synthesize(_ request: SynthesisRequest) async throws -> AudioBuffer

    /// Hands out audio piece by piece (sentence by sentence, or token chunk by chunk) as it is ready.
    func stream(_ request: SynthesisRequest) -> AsyncThrowingStream<AudioChunk, Error>
}

extension SpeechSynthesizer {
    /// Default streaming: one chunk holding the whole utterance.
    public func stream(_ request: SynthesisRequest) -> AsyncThrowingStream<AudioChunk, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let audio = try await self.synthesize(request)
                    continuation.yield(AudioChunk(audio: audio, index: 0, text: request.text, isLast: true))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

public struct SynthesizerInfo: Sendable, Equatable, Codable {
    /// Engine id, for example "piper" or "chatterbox".
    public var engine: String
    /// Voice name, for example "en_US-joe-medium".
    public var voice: String
    public var sampleRate: Int
    public var speakers: Int
    /// Identifies the model files (size + modification + header digest) for cache keys.
    public var modelFingerprint: String

    public init(engine: String, voice: String, sampleRate: Int, speakers: Int = 1, modelFingerprint: String = "") {
        self.engine = engine
        self.voice = voice
        self.sampleRate = sampleRate
        self.speakers = speakers
        self.modelFingerprint = modelFingerprint
    }
}
