import Foundation
import Testing
import VoxAudio
import VoxCore
@testable import VoxEngines

@Suite("Voice preprocessing")
struct VoicePreprocessingTests {
    static func dBFS(_ samples: [Float]) -> Double {
        10 * log10(samples.reduce(Double(0)) { $0 + Double($1) * Double($1) } / Double(samples.count))
    }

    static func sine(amplitude: Float, seconds: Double) -> [Float] {
        (0..<Int(seconds * 16000)).map { amplitude * sin(2 * .pi * 220 * Float($0) / 16000) }
    }

    /// Resemblyzer's `normalize_volume` (VoxAudio's, which `preprocess` uses) on 16 kHz samples.
    static func normalizeVolume(_ samples: [Float], targetDBFS: Double, increaseOnly: Bool) -> [Float] {
        AudioBuffer(samples: samples, sampleRate: 16000).volumeNormalized(toDBFS: targetDBFS, increaseOnly: increaseOnly).samples
    }

    /// `librosa.effects.trim` (VoxAudio's, which `preprocess` uses) on 16 kHz samples.
    static func trimEdges(_ samples: [Float], topDB: Double) -> [Float] {
        AudioBuffer(samples: samples, sampleRate: 16000).trimmingSilence(topDB: topDB).samples
    }

    @Test("quiet audio is raised to −30 dBFS; louder audio and silence are left alone")
    func normalizesVolumeUpwardOnly() {
        let quiet = Self.sine(amplitude: 0.002, seconds: 1)  // about −57 dBFS
        let raised = Self.normalizeVolume(quiet, targetDBFS: -30, increaseOnly: true)
        #expect(abs(Self.dBFS(raised) + 30) < 0.01)
        let loud = Self.sine(amplitude: 0.5, seconds: 1)  // about −9 dBFS
        #expect(Self.normalizeVolume(loud, targetDBFS: -30, increaseOnly: true) == loud)
        #expect(abs(Self.dBFS(Self.normalizeVolume(loud, targetDBFS: -30, increaseOnly: false)) + 30) < 0.01)
        let silence = [Float](repeating: 0, count: 1000)
        #expect(Self.normalizeVolume(silence, targetDBFS: -30, increaseOnly: true) == silence)
    }

    @Test("a two-second pause between sentences is cut to a few hundred milliseconds")
    func trimsLongSilences() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let a = try fixtures.clip("a", voice: "en-us", text: VoiceEncoderTests.firstSentence).samples
        let b = try fixtures.clip("b", voice: "en-us", text: VoiceEncoderTests.secondSentence).samples
        let speech = a + b
        let paused = a + [Float](repeating: 0, count: 32000) + b
        let trimmedSpeech = VoiceEncoder.trimLongSilences(speech)
        let trimmedPaused = VoiceEncoder.trimLongSilences(paused)
        // Speech without long pauses keeps nearly all of its length.
        #expect(trimmedSpeech.count > speech.count * 9 / 10)
        // The pause goes, except for the few windows of dilation on each side of it (and one
        // window of realignment, as the pause moves the second sentence off the 30 ms grid).
        #expect(abs(trimmedPaused.count - trimmedSpeech.count) <= 2 * 7 * 480 + 480)
        #expect(paused.count - trimmedPaused.count > 32000 - 2 * 7 * 480)
        #expect(VoiceEncoder.trimLongSilences([Float](repeating: 0, count: 16000)).isEmpty)
    }

    @Test("edges more than 20 dB below the loudest frame are trimmed as librosa.effects.trim does")
    func trimsEdges() {
        // 1 s of hum at −63 dBFS, 1 s of tone at −9 dBFS, 1 s of hum. Frame t (2048 samples centred
        // on 512·t) is within 20 dB of the loudest when it overlaps the tone by more than 1 % of its
        // length: frames 30 through 64, so the cut is [30·512, 65·512) (librosa gives [15360, 33280]).
        let hum = Self.sine(amplitude: 0.001, seconds: 1)
        let tone = Self.sine(amplitude: 0.5, seconds: 1)
        let signal = hum + tone + hum
        #expect(Self.trimEdges(signal, topDB: 20) == Array(signal[15360..<33280]))
        // With top_db 80 the hum is kept as well.
        #expect(Self.trimEdges(signal, topDB: 80) == signal)
        // All-silent audio has nothing below its own level: librosa keeps it whole, and so do we.
        let silence = [Float](repeating: 0, count: 4000)
        #expect(Self.trimEdges(silence, topDB: 20) == silence)
    }

    @Test("the configured preprocessing is the one applied")
    func preprocessFollowsConfiguration() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let silence = [Float](repeating: 0, count: 32000)
        let quiet = silence + Self.sine(amplitude: 0.002, seconds: 1) + silence + Self.sine(amplitude: 0.002, seconds: 1) + silence
        let tensors = try TorchLegacyReader.read(contentsOf: fixtures.weights)
        var none = VoiceEncoderConfiguration.resemblyzer
        none.preprocessing = .none
        #expect(try VoiceEncoder(weights: tensors, configuration: none).preprocess(quiet) == quiet)
        // Resemblyzer: louder (the whole clip is raised to −30 dBFS before the silences go) and
        // shorter by nearly all of the 6 s of silence.
        let resemblyzer = try VoiceEncoder(weights: tensors, configuration: .resemblyzer).preprocess(quiet)
        #expect(resemblyzer.count < 2 * 16000 + 4 * 7 * 480)
        #expect(resemblyzer.count >= 2 * 16000 - 2 * 480)
        #expect(Self.dBFS(resemblyzer) > Self.dBFS(quiet) + 10)
        // Chatterbox: level untouched, only the leading and trailing silence cut.
        let chatterbox = try VoiceEncoder(weights: tensors, configuration: .chatterbox).preprocess(quiet)
        #expect(chatterbox.count > 4 * 16000 - 2 * 2048 && chatterbox.count < 4 * 16000 + 2 * 2048)
        #expect(chatterbox.max() == quiet.max())
    }
}
