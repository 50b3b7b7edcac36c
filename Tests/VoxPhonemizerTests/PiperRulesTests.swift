import Testing
import VoxPhonemizer

/// Piper's rules for turning espeak-ng clauses into sentences, on real espeak-ng output. The
/// literal strings are espeak-ng 1.51's (Debian bookworm); the first three are piper-phonemize's
/// own test vectors (src/test.cpp), so a match here means the same phoneme ids as Piper.
@Suite struct PiperRulesTests {
    let phonemizer = EspeakPhonemizer.shared

    @Test func commaColonAndSemicolonAreKeptWithASpaceAfterThem() async throws {
        let sentences = try await phonemizer.phonemize("this, is: a; test.", voice: "en-us")
        #expect(sentences.map(\.phonemes) == ["ðˈɪs, ɪz: ˈeɪ; tˈɛst."])
    }

    @Test func capitalisedSentencesAreSplitAndKeepTheirFullStop() async throws {
        let sentences = try await phonemizer.phonemize("Test 1. Test 2.", voice: "en-us")
        #expect(sentences.map(\.phonemes) == ["tˈɛst wˈʌn.", "tˈɛst tˈuː."])
    }

    @Test func phonemesAreDecomposedToNFD() async throws {
        let sentences = try await phonemizer.phonemize("licht!", voice: "de")
        // espeak-ng writes the precomposed "ç" (U+00E7); Piper's ids are for "c" + U+0327.
        // Swift's == treats the two spellings as equal, so the code points are compared.
        #expect(sentences.map { Array($0.phonemes.unicodeScalars) } == [Array("lˈɪc\u{0327}t!".unicodeScalars)])
    }

    @Test func everyTerminatorIsKeptInItsPlace() async throws {
        let sentences = try await phonemizer.phonemize("Hello, world: yes; no. Why? Because!", voice: "en-us")
        #expect(sentences.map(\.phonemes) == ["həlˈoʊ, wˈɜːld: jˈɛs; nˈoʊ.", "wˈaɪ?", "bɪkˈʌz!"])
    }

    @Test func threeSentencesGiveThreeSentencesWithTheirText() async throws {
        let text = "One sentence here. Another one follows! Is this the third?"
        let sentences = try await phonemizer.phonemize(text, voice: "en-us")
        #expect(sentences.map(\.text) == ["One sentence here.", "Another one follows!", "Is this the third?"])
        #expect(sentences.map(\.phonemes) == ["wˈʌn sˈɛntəns hˈɪɹ.", "ɐnˈʌðɚ wˈʌn fˈɑːloʊz!", "ɪz ðɪs ðə θˈɜːd?"])
    }

    @Test func textWithoutTerminatorStillGivesItsLastSentence() async throws {
        let sentences = try await phonemizer.phonemize("First one. No terminator at the end", voice: "en-us")
        #expect(sentences.map(\.phonemes) == ["fˈɜːst wˌʌn.", "nˈoʊ tˈɜːmᵻnˌeɪɾɚɹ æt ðɪ ˈɛnd"])
        #expect(sentences.map(\.text) == ["First one.", "No terminator at the end"])
    }

    @Test func languageSwitchFlagsAreStripped() async throws {
        // The French voice reads "world" with English rules and marks it "(en)…(fr)".
        let cli = try EspeakCLI.ipa("hello world", voice: "fr-fr")
        #expect(cli.contains("(en)"))
        let sentences = try await phonemizer.phonemize("hello world", voice: "fr-fr")
        #expect(sentences.map(\.phonemes) == ["ɛlˈo wˈɜːld"])
    }

    @Test func numbersAndLowerCaseAbbreviationsDoNotEndASentence() async throws {
        let text = "We paid 3.14 dollars for 1,000 pens, e.g. blue ones."
        let sentences = try await phonemizer.phonemize(text, voice: "en-us")
        #expect(sentences.count == 1)
        let phonemes = try #require(sentences.first?.phonemes)
        #expect(phonemes.contains("θɹˈiː pɔɪnt wˈʌn fˈoːɹ"))
        #expect(phonemes.contains("wˈʌn θˈaʊzənd"))
        // The only comma that ends a clause is the one after "pens".
        #expect(phonemes.filter { $0 == "," }.count == 1)
        #expect(phonemes.hasSuffix("."))
    }

    @Test func aTitleBeforeACapitalEndsASentenceAsInEspeak() async throws {
        // espeak-ng (and so Piper) ends the clause after "Dr." when a capital follows.
        let sentences = try await phonemizer.phonemize("Dr. Smith is here.", voice: "en-us")
        #expect(sentences.map(\.text) == ["Dr.", "Smith is here."])
        #expect(sentences.first?.phonemes == "dˈɑːktɚ.")
    }

    @Test func questionThenExclamationIsAQuestion() async throws {
        let sentences = try await phonemizer.phonemize("What?! Yes.", voice: "en-us")
        #expect(sentences.map(\.phonemes) == ["wˌʌt?", "jˈɛs."])
    }

    @Test func anEllipsisJoinsClausesWithASpaceInOneSentence() async throws {
        let sentences = try await phonemizer.phonemize("Wait... what", voice: "en-us")
        #expect(sentences.map(\.phonemes) == ["wˈeɪt wˌʌt"])
    }

    @Test func aBlankLineEndsASentence() async throws {
        let sentences = try await phonemizer.phonemize("First line\n\nSecond line", voice: "en-us")
        #expect(sentences.map(\.text) == ["First line", "Second line"])
    }

    @Test func aClosingQuoteStaysWithItsSentence() async throws {
        let sentences = try await phonemizer.phonemize("He said \"hi.\" Then he left.", voice: "en-us")
        #expect(sentences.map(\.text) == ["He said \"hi.\"", "Then he left."])
    }

    @Test func aSentenceAfterAMultiByteLetterKeepsItsFullStop() async throws {
        // espeak-ng's look-ahead here is "É" (two bytes); a byte-wise look-back would miss the ".".
        let sentences = try await phonemizer.phonemize("Hi. Élan is here.", voice: "en-us")
        #expect(sentences.map(\.text) == ["Hi.", "Élan is here."])
        #expect(sentences.first?.phonemes == "hˈaɪ.")
    }

    @Test func decomposedInputReadsLikePrecomposedInput() async throws {
        let precomposed = try await phonemizer.phonemize("café naïve", voice: "en-us")
        let decomposed = try await phonemizer.phonemize("cafe\u{0301} nai\u{0308}ve", voice: "en-us")
        #expect(decomposed.map(\.phonemes) == precomposed.map(\.phonemes))
        #expect(precomposed.map(\.phonemes) == ["kæfˈeɪ naɪˈiːv"])
    }

    @Test func controlCharactersReadAsSpaces() async throws {
        // NUL would end the C string; U+0001 starts an espeak-ng embedded command.
        let plain = try await phonemizer.phonemize("Hello world again", voice: "en-us")
        let withControls = try await phonemizer.phonemize("Hello\u{0}world\u{1}again", voice: "en-us")
        #expect(withControls.map(\.phonemes) == plain.map(\.phonemes))
    }
}
