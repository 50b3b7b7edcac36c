import Foundation
import VoxAudio
import VoxCore

extension ChatterboxEngine {
    /// The sentence's tokens: from the engine's batch when batching, else from the generator run
    /// by the stream itself.
    func tokenSource(_ generator: ChatterboxGenerator) -> any ChatterboxTokenSource {
        batcher.map { $0.submit(generator) } ?? generator
    }

    /// Hands out audio while the tokens are still being generated: after the first
    /// `streamFirstChunkTokens` tokens, then every `streamChunkTokens`. Each chunk's tokens are
    /// decoded together with the `streamOverlapTokens` before them, and neighbouring chunks are
    /// joined with a short crossfade, so the stream sounds like one decode of the whole sentence.
    /// Chatterbox has no pace control of its own: with a `speed`, each chunk is time-stretched
    /// (pitch kept), so the duration is 1/speed as with Piper.
    public func stream(_ request: SynthesisRequest) -> AsyncThrowingStream<AudioChunk, Error> {
        let chunks = generatedChunks(request)
        return request.speed == 1 ? chunks : TimeStretch.stretching(chunks, by: 1 / Double(request.speed))
    }

    private func generatedChunks(_ request: SynthesisRequest) -> AsyncThrowingStream<AudioChunk, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let (sentences, conditioning, outcome, seed) = try await self.prepare(request)
                    let index = Locked(0)
                    // With batching, the next sentence joins the batch while this one streams, so
                    // a long text's sentences decode together; its tokens wait in its ticket.
                    func source(_ i: Int) throws -> any ChatterboxTokenSource {
                        let generator = try self.makeGenerator(
                            sentence: sentences[i], conditioning: conditioning, seed: SeededGenerator.derive(seed, index: i))
                        return self.tokenSource(generator)
                    }
                    var next: (any ChatterboxTokenSource)? = try source(0)
                    defer { next?.cancel() }
                    for (i, sentence) in sentences.enumerated() {
                        let current = next!
                        defer { current.cancel() }
                        next = nil
                        if i + 1 < sentences.count { next = self.batcher == nil ? nil : try source(i + 1) }
                        try await self.streamSentence(
                            current, text: sentence, conditioning: conditioning, isLastSentence: i == sentences.count - 1
                        ) { audio, isLast in
                            let n = index.withLock { value in
                                defer { value += 1 }
                                return value
                            }
                            continuation.yield(AudioChunk(
                                audio: AudioBuffer(samples: audio, sampleRate: Self.sampleRate), index: n, text: sentence, isLast: isLast,
                                conditioning: outcome))
                        }
                        if next == nil, i + 1 < sentences.count { next = try source(i + 1) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Generates and decodes one sentence chunk by chunk, calling `emit` with each piece of audio,
    /// in order. The first chunk is decoded as soon as its tokens exist (the time to first audio);
    /// with `overlapDecoder`, each later chunk is decoded while the language model generates the
    /// next one, so the decoder's time hides behind generation instead of adding to it.
    func streamSentence(
        _ generator: any ChatterboxTokenSource, text: String, conditioning: ChatterboxConditioning, isLastSentence: Bool,
        emit: @escaping @Sendable (_ audio: [Float], _ isLast: Bool) -> Void
    ) async throws {
        // At least 6: the decoder fades in the first 40 ms (one token) of every call and looks a
        // few tokens ahead, so a window's first and last tokens are not handed out.
        let overlap = max(6, options.streamOverlapTokens)
        let holdback = overlap / 2
        let first = max(holdback + 1, options.streamFirstChunkTokens)
        let later = max(holdback + 1, options.streamChunkTokens)
        let silenceTokens = layout.flavor == .turbo ? 3 : 0
        let stitcher = Locked(CrossfadeStitcher(crossfade: Int(options.crossfadeDuration * Double(Self.sampleRate))))
        var decodedUpTo = 0
        var chunk = 0
        var decoding: Task<Void, Error>?
        defer { decoding?.cancel() }
        while true {
            try Task.checkCancellation()
            let want = chunk == 0 ? first : later
            let (tokens, final) = try await generator.tokens(atLeast: decodedUpTo + want)
            chunk += 1
            if tokens.isEmpty {
                if final {
                    emit([], isLastSentence)
                    return
                }
                continue
            }
            let windowStart = max(0, decodedUpTo - overlap)
            let window = Array(tokens[windowStart...])
            let isLast = final && isLastSentence
            let decodeWindow: @Sendable () throws -> Void = { [self] in
                let audio = try self.decode(tokens: window, conditioning: conditioning, final: final)
                let perToken = Double(audio.count) / Double(window.count + (final ? silenceTokens : 0))
                let start = Int((Double(windowStart) * perToken).rounded())
                let boundary = final ? nil : Int((Double(tokens.count - holdback) * perToken).rounded())
                let piece = stitcher.withLock { $0.add(audio, start: start, boundary: boundary) }
                emit(piece, isLast)
            }
            // The previous window first: audio goes out in order.
            try await decoding?.value
            decoding = nil
            decodedUpTo = tokens.count
            let gate = decoderGate
            let firstChunk = chunk == 1
            let decodeInTurn: @Sendable () async throws -> Void = {
                guard let gate else { return try await offload(decodeWindow) }
                try await gate.run(firstChunk: firstChunk) { try await offload(decodeWindow) }
            }
            if chunk == 1 || final || !options.overlapDecoder {
                try await decodeInTurn()
                if final { return }
            } else {
                decoding = Task { try await decodeInTurn() }
            }
        }
    }
}
