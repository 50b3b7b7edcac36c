import VoxCore
import VoxPhonemizer

/// The `Phonemizer` the Piper engine takes, over the process's one espeak-ng instance.
public struct EspeakSentencePhonemizer: Phonemizer {
    public init() {}

    public func sentencePhonemes(for text: String, voice: String) async throws -> [String] {
        try await EspeakPhonemizer.shared.phonemize(text, voice: voice).map(\.phonemes)
    }
}
