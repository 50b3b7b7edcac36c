import VoxCore

extension EspeakPhonemizer: Phonemizer {
    public func sentencePhonemes(for text: String, voice: String) async throws -> [String] {
        try phonemize(text, voice: voice).map(\.phonemes)
    }
}
