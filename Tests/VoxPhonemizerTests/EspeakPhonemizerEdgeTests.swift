import Foundation
import Testing
import VoxCore
import VoxPhonemizer

/// Errors, empty input, voices and library information.
@Suite struct EspeakPhonemizerEdgeTests {
    let phonemizer = EspeakPhonemizer.shared

    @Test func unknownVoiceIsAnUnknownVoiceErrorNamingIt() async throws {
        let error = await #expect(throws: VoxError.self) {
            try await phonemizer.phonemize("Hello.", voice: "xx-no-such-voice")
        }
        #expect(error?.kind == .unknownVoice)
        #expect(error?.message.contains("xx-no-such-voice") == true)
    }

    @Test func emptyVoiceNameIsAnUnknownVoiceError() async throws {
        let error = await #expect(throws: VoxError.self) {
            try await phonemizer.phonemize("Hello.", voice: " ")
        }
        #expect(error?.kind == .unknownVoice)
    }

    @Test func aGoodVoiceWorksAfterAnUnknownOne() async throws {
        // espeak-ng crashes when asked for phonemes with no voice selected.
        let before = try await phonemizer.phonemize("Hello there.", voice: "en-us")
        _ = try? await phonemizer.phonemize("Hello there.", voice: "xx-no-such-voice")
        let after = try await phonemizer.phonemize("Hello there.", voice: "en-us")
        #expect(after == before)
        #expect(after.map(\.phonemes) == ["həlˈoʊ ðˈɛɹ."])
    }

    /// Empty text is not an error here: it gives zero sentences, and the engine above decides
    /// whether a request without speech is acceptable.
    @Test(arguments: ["", "   \n\t ", "?!", "..."])
    func textWithNothingToSpeakGivesNoSentences(text: String) async throws {
        let sentences = try await phonemizer.phonemize(text, voice: "en-us")
        #expect(sentences.isEmpty)
    }

    @Test func emptyTextWithAnUnknownVoiceStillReportsTheVoice() async throws {
        let error = await #expect(throws: VoxError.self) {
            try await phonemizer.phonemize("", voice: "xx-no-such-voice")
        }
        #expect(error?.kind == .unknownVoice)
    }

    @Test func aDataPathWithoutEspeakDataIsRejectedBeforeEspeakSeesIt() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("vox-espeak-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        for path in [empty.path, "/nonexistent/espeak-ng-data"] {
            let error = await #expect(throws: VoxError.self) {
                try await phonemizer.initialize(dataPath: path)
            }
            #expect(error?.kind == .modelNotFound)
            #expect(error?.message.contains(path) == true)
        }
    }

    @Test func infoReportsTheLibraryVersionAndItsData() async throws {
        let info = try await phonemizer.info()
        #expect(info.version.hasPrefix("1."))
        let phontab = URL(fileURLWithPath: info.dataPath).appendingPathComponent("phontab").path
        #expect(FileManager.default.fileExists(atPath: phontab))
    }

    @Test func availableVoicesListsLanguagesThatAllWork() async throws {
        let voices = try await phonemizer.availableVoices()
        #expect(voices.count > 50)
        for expected in ["en-us", "de", "fr-fr", "es"] {
            #expect(voices.contains(expected))
        }
        #expect(voices == voices.sorted())
        for voice in voices {
            // Some voices (he, cv, tk, …) read no digits; every one reads a Latin word, if only by
            // switching to English or spelling it.
            let sentences = try await phonemizer.phonemize("hello", voice: voice)
            #expect(!sentences.isEmpty, "voice \(voice)")
        }
    }
}
