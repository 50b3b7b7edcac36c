import Testing
import VoxPhonemizer

/// espeak-ng keeps global state (the voice, the character it read ahead); calls from many tasks
/// at once must give what one-at-a-time calls give.
@Suite struct EspeakPhonemizerConcurrencyTests {
    static let requests: [(text: String, voice: String)] = [
        ("Hello there. How are you today?", "en-us"),
        ("Der Bäcker sagt: Grüß Gott!", "de"),
        ("Bonjour, ça va? Très bien.", "fr-fr"),
        ("We paid 3.14 dollars for 1,000 pens.", "en-us"),
        ("¿Qué tal? ¡Muy bien!", "es"),
        ("Hi. Élan is here.", "en-us"),
    ]

    @Test func concurrentCallsGiveTheSerialResults() async throws {
        let phonemizer = EspeakPhonemizer.shared
        var serial: [[PhonemeSentence]] = []
        for request in Self.requests {
            serial.append(try await phonemizer.phonemize(request.text, voice: request.voice))
        }

        // Interleave voices so that every call may find another voice selected.
        let rounds = 10
        let concurrent = try await withThrowingTaskGroup(of: (Int, [PhonemeSentence]).self) { group in
            for call in 0..<(rounds * Self.requests.count) {
                let index = call % Self.requests.count
                let request = Self.requests[index]
                group.addTask { (index, try await phonemizer.phonemize(request.text, voice: request.voice)) }
            }
            var results: [(Int, [PhonemeSentence])] = []
            for try await result in group { results.append(result) }
            return results
        }

        #expect(concurrent.count == rounds * Self.requests.count)
        for (index, sentences) in concurrent {
            #expect(sentences == serial[index], "request \(index): \(Self.requests[index].text)")
        }
        // The serial results are themselves right, not merely stable.
        #expect(serial[1].map(\.phonemes) == ["dɛɾ bˈɛkɜ zˈɑːkt: ɡɾˈyːs ɡˈɔt!"])
    }
}
