/// Turns text into phoneme strings, one per sentence, for a phoneme-based voice.
public protocol Phonemizer: Sendable {
    /// IPA phonemes of each sentence of `text`, with clause punctuation kept, for the phonemizer's `voice`.
    func sentencePhonemes(for text: String, voice: String) async throws -> [String]
}
