import Foundation
import Testing
import VoxCore
import VoxPhonemizer
@testable import VoxEngines

/// VoxServe's phonemes and model ids against Python piper-tts's own (`scripts/piper_reference_ids.py`,
/// run with the test venv's pinned piper-tts 1.8.0), sentence by sentence, for the default voice.
@Suite struct PiperParityTests {
    static let texts = [
        "Hello world. How are you?",
        "The quick brown fox; the lazy dog: asleep.",
        "VoxServe runs Piper voices, with no network at all.",
        "It's a naïve café, isn't it?",
        "Would you believe the first sentence arrives early? Yes! It does.",
        "She said, \"Wait,\" and then: nothing.",
        "In 2026, 3 laptops measured 1,000 sentences.",
        // (No year: espeak-ng 1.51 says "four" as fˈoːɹ in "2024", piper's newer bundled espeak-ng as fˈɔːɹ.)
        "Dr. Smith paid $3.50 for 2 coffees on 12/05!",
        "Then – after a pause – she left.",
        "Mr. and Mrs. Jones live at 221B Baker St. in London...",
        "Wow!! Really?? Okay; fine — whatever you say.",
    ]

    struct Sentence: Decodable, Equatable {
        var phonemes: String
        var ids: [Int64]
    }

    func reference() throws -> [String: [Sentence]] {
        let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
        let root = deps.deletingLastPathComponent()
        let result = try ProcessRunner.run(
            deps.appendingPathComponent("venv/bin/python"),
            [root.appendingPathComponent("scripts/piper_reference_ids.py").path, try defaultVoice().modelURL.path],
            stdin: try JSONEncoder().encode(Self.texts))
        #expect(result.status == 0, "\(result.stderrText)")
        return try JSONDecoder().decode([String: [Sentence]].self, from: result.stdout)
    }

    @Test func phonemesAndIdsMatchPythonPiper() async throws {
        let expected = try await offload { try self.reference() }
        let voice = try defaultVoice()
        for text in Self.texts {
            let ours = try await EspeakPhonemizer.shared.sentencePhonemes(for: text, voice: voice.espeakVoice)
            let theirs = try #require(expected[text])
            #expect(ours.count == theirs.count, "\(text): \(ours) vs \(theirs.map(\.phonemes))")
            for (mine, reference) in zip(ours, theirs) {
                #expect(Array(mine.unicodeScalars) == Array(reference.phonemes.unicodeScalars), "\(text)")
                #expect(voice.phonemeIDs(for: mine).ids == reference.ids, "\(text): ids differ")
            }
        }
    }
}
