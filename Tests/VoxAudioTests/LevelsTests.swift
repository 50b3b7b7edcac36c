import Testing
import VoxAudio
import VoxCore

@Suite struct LevelsTests {
    @Test func peakNormalisationScalesToTheTarget() {
        let quiet = Fixtures.sine(frequency: 440, amplitude: 0.25, seconds: 0.5, sampleRate: 16000)
        let normalised = quiet.peakNormalized(to: 0.9)
        #expect(abs(normalised.peak - 0.9) < 1e-6)
        #expect(abs(normalised.samples[10] / quiet.samples[10] - 3.6) < 1e-5)
    }

    @Test func peakNormalisationDoesNotBlowUpNearSilence() {
        // piper's max(0.01, peak): at most a gain of target / 0.01.
        let whisper = Fixtures.sine(frequency: 440, amplitude: 0.001, seconds: 0.5, sampleRate: 16000)
        #expect(abs(whisper.peakNormalized().peak - 0.1) < 1e-4)
        let silence = AudioBuffer.silence(seconds: 0.1, sampleRate: 16000)
        #expect(silence.peakNormalized() == silence)
    }

    @Test func clippedPeakNormalisationKeepsEverySampleWithinTheTarget() {
        // PiperEngine's normalisation: clamped to ±1 before 16-bit conversion, so even a NaN that
        // the model put out becomes a legal sample (-1) instead of passing through.
        let audio = AudioBuffer(samples: [0.5, .nan, -0.25, 0.125], sampleRate: 22050)
        #expect(audio.peakNormalized(clipped: true).samples == [1, -1, -0.5, 0.25])
        let unclipped = audio.peakNormalized()
        #expect(unclipped.samples[1].isNaN)
        #expect(unclipped.samples[0] == 1 && unclipped.samples[2] == -0.5 && unclipped.samples[3] == 0.25)
        // The floor holds with clipping too: a peak of 0.001 is raised 100×, to 0.1.
        #expect(AudioBuffer(samples: [0.001, -0.0005], sampleRate: 22050).peakNormalized(clipped: true).samples == [0.1, -0.05])
    }

    @Test func peakNormalisationLeavesAudioWithAnInfiniteSampleAlone() {
        // The gain would be zero and turn the infinity into NaN; PiperEngine has always left such output as it is.
        let audio = AudioBuffer(samples: [0.5, .infinity, -0.25], sampleRate: 22050)
        #expect(audio.peakNormalized().samples == audio.samples)
        #expect(audio.peakNormalized(clipped: true).samples == audio.samples)
    }

    @Test func rmsDBFSOfReferenceSignals() {
        let square = AudioBuffer(samples: (0..<1000).map { $0.isMultiple(of: 2) ? 1 : -1 }, sampleRate: 16000)
        #expect(abs(square.rmsDBFS) < 1e-9)
        let sine = Fixtures.sine(frequency: 1000, amplitude: 1, seconds: 1, sampleRate: 16000)
        #expect(abs(sine.rmsDBFS - -3.0103) < 0.001)
        #expect(AudioBuffer.silence(seconds: 1, sampleRate: 16000).rmsDBFS == -.infinity)
    }

    @Test func volumeNormalisationRaisesQuietAudioToTheTarget() {
        let quiet = Fixtures.sine(frequency: 440, amplitude: 0.005, seconds: 1, sampleRate: 16000)
        #expect(quiet.rmsDBFS < -45)
        #expect(abs(quiet.volumeNormalized(toDBFS: -30).rmsDBFS - -30) < 0.001)
    }

    @Test func volumeNormalisationIncreaseOnlyLeavesLoudAudio() {
        let loud = Fixtures.sine(frequency: 440, amplitude: 0.5, seconds: 1, sampleRate: 16000)
        #expect(loud.volumeNormalized(toDBFS: -30, increaseOnly: true) == loud)
        #expect(abs(loud.volumeNormalized(toDBFS: -30, increaseOnly: false).rmsDBFS - -30) < 0.001)
    }

    @Test func volumeNormalisationLeavesSilenceFinite() {
        let silence = AudioBuffer.silence(seconds: 0.5, sampleRate: 16000)
        let result = silence.volumeNormalized(toDBFS: -30)
        #expect(result == silence)
        #expect(result.isFinite)
    }

    /// 0.7 s of zeros, 1 s of a 440 Hz tone, 0.3 s of a tone 34 dB down, 0.5 s of zeros at 16 kHz.
    static let programme: AudioBuffer = {
        var audio = AudioBuffer.silence(seconds: 0.7, sampleRate: 16000)
        audio.append(Fixtures.sine(frequency: 440, amplitude: 0.5, seconds: 1, sampleRate: 16000))
        audio.append(Fixtures.sine(frequency: 300, amplitude: 0.01, seconds: 0.3, sampleRate: 16000))
        audio.append(.silence(seconds: 0.5, sampleRate: 16000))
        return audio
    }()

    @Test func trimMatchesLibrosa() {
        // librosa 0.11 `effects.trim(y, top_db=20)` gives [10240, 28672]; with top_db=40, [10240, 32768].
        #expect(Self.programme.samples.count == 40000)
        #expect(Self.programme.nonSilentRange(topDB: 20) == 10240..<28672)
        #expect(Self.programme.nonSilentRange(topDB: 40) == 10240..<32768)
        let trimmed = Self.programme.trimmingSilence()
        #expect(trimmed.samples.count == 28672 - 10240)
        #expect(trimmed.samples == Array(Self.programme.samples[10240..<28672]))
    }

    @Test func trimKeepsAToneThatStartsAtTheBeginning() {
        // librosa: [0, 10240] for 1000 zeros, 0.5 s of tone, 3001 zeros.
        var audio = AudioBuffer(samples: [Float](repeating: 0, count: 1000), sampleRate: 16000)
        audio.append(Fixtures.sine(frequency: 440, amplitude: 0.5, seconds: 0.5, sampleRate: 16000))
        audio.append(AudioBuffer(samples: [Float](repeating: 0, count: 3001), sampleRate: 16000))
        #expect(audio.nonSilentRange() == 0..<10240)
    }

    @Test func digitalSilenceIsKeptWholeAsLibrosaDoes() {
        // Levels are relative to the loudest frame: with nothing louder than anything else, librosa
        // keeps the whole signal ([0, 16000]).
        #expect(AudioBuffer.silence(seconds: 1, sampleRate: 16000).nonSilentRange() == 0..<16000)
        #expect(AudioBuffer(samples: [], sampleRate: 16000).nonSilentRange() == 0..<0)
    }
}
