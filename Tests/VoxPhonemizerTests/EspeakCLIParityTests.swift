import Testing
@testable import VoxPhonemizer

/// The phonemizer against the `espeak-ng` CLI, run live for the same text and voice.
/// See ``PhonemeLetters`` for what the comparison ignores and why.
@Suite struct EspeakCLIParityTests {
    struct Fixture: CustomTestStringConvertible, Sendable {
        var voice: String
        var text: String
        var sentences: Int
        var testDescription: String { "\(voice): \(text)" }
    }

    static let fixtures: [Fixture] = [
        // Numbers: decimal point and thousands separator do not end a clause.
        Fixture(voice: "en-us", text: "In 2024 the price rose from 3.14 to 1,000 dollars, about 31.8 percent.", sentences: 1),
        // Abbreviations: espeak-ng ends a clause at "Dr." and "Mr." before a capital, not at
        // "a.m.," or "e.g." before a lower-case word.
        Fixture(voice: "en-us", text: "Dr. Smith met Mr. Jones at 10 a.m., e.g. before the meeting.", sentences: 3),
        Fixture(voice: "en-us", text: "Wait... what? Really! Yes; no: maybe, perhaps.", sentences: 3),
        Fixture(voice: "en-us", text: "The café was naïve about crème brûlée.", sentences: 1),
        Fixture(voice: "de", text: "Der Bäcker sagt: Grüß Gott! Wie geht's dir heute?", sentences: 2),
        Fixture(voice: "fr-fr", text: "Bonjour, ça va? Très bien, merci. C'est l'été à Paris!", sentences: 3),
        Fixture(voice: "es", text: "¿Qué tal? ¡Muy bien, gracias!", sentences: 2),
    ]

    @Test("the whole text has the CLI's phoneme letters", arguments: fixtures)
    func wholeTextMatchesCLI(fixture: Fixture) async throws {
        let sentences = try await EspeakPhonemizer.shared.phonemize(fixture.text, voice: fixture.voice)
        let cli = try EspeakCLI.ipa(fixture.text, voice: fixture.voice)
        let ours = PhonemeLetters.of(sentences.map(\.phonemes).joined())
        #expect(!ours.isEmpty)
        #expect(ours == PhonemeLetters.of(cli))
    }

    @Test("each sentence has the CLI's phoneme letters for its own text", arguments: fixtures)
    func eachSentenceMatchesCLI(fixture: Fixture) async throws {
        let sentences = try await EspeakPhonemizer.shared.phonemize(fixture.text, voice: fixture.voice)
        #expect(sentences.count == fixture.sentences)
        for sentence in sentences {
            let text = try #require(sentence.text)
            let cli = try EspeakCLI.ipa(text, voice: fixture.voice)
            #expect(PhonemeLetters.of(sentence.phonemes) == PhonemeLetters.of(cli), "sentence: \(text)")
        }
    }
}
