import Foundation
import VoxCore

/// How one streamed sentence went, for `voxserve bench`.
public struct ChatterboxStreamTiming: Sendable, Codable, Equatable {
    /// From the call to the first audio handed out.
    public var firstAudioSeconds: Double
    /// From the call to the last audio handed out.
    public var totalSeconds: Double
    /// Seconds of audio produced.
    public var audioSeconds: Double
    /// The language model's first step: conditioning and text in one run.
    public var prefillSeconds: Double
    /// Every later step (one speech token each): the per-token cost.
    public var decodeStepSeconds: [Double]
    /// Time the stream spent outside the language model: decoding that generation did not hide.
    public var decoderSeconds: Double
    public var tokens: Int

    public var meanDecodeStepSeconds: Double {
        decodeStepSeconds.isEmpty ? 0 : decodeStepSeconds.reduce(0, +) / Double(decodeStepSeconds.count)
    }
}

extension ChatterboxEngine {
    /// Streams one sentence exactly as a request is streamed (chunks, overlap, crossfade) and
    /// reports its timings. The voice comes from the conditioning store, as for a voice already
    /// cloned; `maxNewTokens` bounds the tokens (with `ignoresStopToken`, exactly that many).
    public func timedStream(text: String, reference: VoiceReference, seed: UInt64, maxNewTokens: Int) async throws -> ChatterboxStreamTiming {
        let conditioning = try await conditioning(for: reference)
        let sentence = normalized(text)
        let generator = try makeGenerator(sentence: sentence, conditioning: conditioning, seed: seed, maxNewTokens: maxNewTokens)
        let clock = ContinuousClock()
        let start = clock.now
        let progress = Locked((first: Duration?.none, samples: 0))
        try await streamSentence(generator, text: sentence, conditioning: conditioning, isLastSentence: true) { audio, _ in
            let now = clock.now
            progress.withLock { p in
                if p.first == nil, !audio.isEmpty { p.first = now - start }
                p.samples += audio.count
            }
        }
        let total = clock.now - start
        let (first, samples) = progress.get()
        let steps = generator.stepSeconds
        let generation = steps.reduce(0, +)
        return ChatterboxStreamTiming(
            firstAudioSeconds: (first ?? total).seconds, totalSeconds: total.seconds,
            audioSeconds: Double(samples) / Double(Self.sampleRate), prefillSeconds: steps.first ?? 0,
            decodeStepSeconds: Array(steps.dropFirst()), decoderSeconds: max(0, total.seconds - generation), tokens: generator.tokens.count)
    }
}
