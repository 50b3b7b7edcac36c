import Foundation
import VoxCore
import VoxONNX

extension ChatterboxEngine {
    /// The tokenizer's ids for one sentence. For the original model's character tokenizer, spaces
    /// are written `[SPACE]` first, as Chatterbox's English tokenizer does.
    public func textIDs(for sentence: String) -> [Int] {
        var text = sentence
        if !tokenizer.isByteLevel, tokenizer.id(for: "[SPACE]") != nil {
            text = text.replacingOccurrences(of: " ", with: "[SPACE]")
        }
        return tokenizer.encode(text)
    }

    func makeGenerator(sentence: String, conditioning: ChatterboxConditioning, seed: UInt64, maxNewTokens: Int? = nil) throws -> ChatterboxGenerator {
        var opts = options
        if let maxNewTokens { opts.maxNewTokens = maxNewTokens }
        let ids = textIDs(for: sentence)
        guard !ids.isEmpty else { throw VoxError.invalidInput("The text '\(sentence.prefix(40))' gives no tokens.") }
        return ChatterboxGenerator(
            embedTokens: embedTokens, languageModel: languageModel, layout: layout, conditioning: conditioning,
            textIDs: ids, placeholder: tokenizer.id(for: "<|endoftext|>") ?? ChatterboxGenerator.turboPlaceholder, options: opts, seed: seed,
            prefixCache: prefixCache, gatherer: kvGatherer)
    }

    /// The speech tokens of `text` (one sentence, not normalised) in the voice of `reference`; with
    /// batching, in the engine's batch with whatever else is generating.
    public func speechTokens(
        for text: String, reference: VoiceReference, seed: UInt64, maxNewTokens: Int? = nil
    ) async throws -> ChatterboxGeneration {
        let conditioning = try await self.conditioning(for: reference)
        let generator = try makeGenerator(sentence: text, conditioning: conditioning, seed: seed, maxNewTokens: maxNewTokens)
        // Through the batch when batching: concurrent calls decode together.
        let source = tokenSource(generator)
        defer { source.cancel() }
        _ = try await source.tokens(atLeast: generator.maxNewTokens)
        return generator.generation
    }

    /// Audio for `tokens`: the decoder gets the reference's own tokens first and, when `final`
    /// (Turbo), three silence tokens last. Tokens outside the speech vocabulary are dropped.
    func decode(tokens: [Int], conditioning: ChatterboxConditioning, final: Bool) throws -> [Float] {
        var speech = conditioning.audioTokens.int64s()
        speech += tokens.filter { $0 >= 0 && $0 < ChatterboxGenerator.startToken }.map(Int64.init)
        if final, layout.flavor == .turbo {
            speech += [Int64](repeating: Int64(Self.silenceToken), count: 3)
        }
        let feeds: [String: Tensor] = [
            "speech_tokens": Tensor(int64: speech, shape: [1, speech.count]),
            "speaker_embeddings": try conditioning.speakerEmbeddings.converted(to: layout.decoderSpeakerType),
            "speaker_features": try conditioning.speakerFeatures.converted(to: layout.decoderFeaturesType),
        ]
        let name = conditionalDecoder.outputs[0].name
        do {
            guard let waveform = try conditionalDecoder.run(feeds, outputNames: [name])[name] else {
                throw VoxError.engineFailure("The Chatterbox decoder returned no waveform.")
            }
            let samples = waveform.floats()
            guard samples.allSatisfy(\.isFinite) else {
                throw VoxError.engineFailure("The Chatterbox decoder produced non-finite audio.")
            }
            return samples
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("The Chatterbox decoder failed: \(error.message)", detail: error.description)
        }
    }
}
