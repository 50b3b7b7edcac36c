import Foundation
import Testing
@testable import VoxAudio
import VoxCore

@Suite struct LoudnessMeterTests {
    /// pyloudnorm 0.1.1 `Meter(rate).integrated_loudness` of a full-scale 1 kHz sine, 3 s long.
    /// BS.1770 puts it at -3.01 LUFS; pyloudnorm's filter design strays by a few hundredths.
    @Test(arguments: [(16000, -3.0767), (22050, -3.0598), (24000, -3.0568), (44100, -3.0457), (48000, -3.0450)])
    func fullScaleOneKilohertzSineIsAboutMinusThree(sampleRate: Int, pyloudnorm: Double) throws {
        let sine = Fixtures.sine(frequency: 1000, amplitude: 1, seconds: 3, sampleRate: sampleRate)
        let lufs = try LoudnessMeter().integratedLoudness(of: sine)
        #expect(abs(lufs - -3.01) < 0.1)
        #expect(abs(lufs - pyloudnorm) < 0.002, "\(lufs)")
    }

    @Test func kWeightingAt48kHzMatchesTheBS1770Table() {
        let stages = LoudnessMeter.kWeighting(sampleRate: 48000)
        // ITU-R BS.1770-4, Tables 1 and 2.
        let shelf = stages[0]
        #expect(abs(shelf.b.0 - 1.53512485958697) < 2e-4)
        #expect(abs(shelf.b.1 - -2.69169618940638) < 2e-4)
        #expect(abs(shelf.b.2 - 1.19839281085285) < 2e-4)
        #expect(abs(shelf.a.0 - -1.69065929318241) < 2e-4)
        #expect(abs(shelf.a.1 - 0.73248077421585) < 2e-4)
        let highPass = stages[1]
        #expect(abs(highPass.a.0 - -1.99004745483398) < 1e-4)
        #expect(abs(highPass.a.1 - 0.99007225036621) < 1e-4)
        // The table's numerator is (1, -2, 1); the cookbook design scales it to unity gain at Nyquist.
        #expect(abs(highPass.b.1 / highPass.b.0 - -2) < 1e-9)
        #expect(abs(highPass.b.2 / highPass.b.0 - 1) < 1e-9)
    }

    @Test func gatedProgrammeMatchesPyloudnorm() throws {
        // Tone, quiet low tone, silence, high tone: both gates and the K-weighting's tilt take part.
        let rate = 22050
        var audio = Fixtures.sine(frequency: 1000, amplitude: 0.5, seconds: 2, sampleRate: rate)
        audio.append(Fixtures.sine(frequency: 200, amplitude: 0.05, seconds: 1, sampleRate: rate))
        audio.append(.silence(seconds: 1, sampleRate: rate))
        audio.append(Fixtures.sine(frequency: 5000, amplitude: 0.3, seconds: 1.5, sampleRate: rate))
        #expect(abs(try LoudnessMeter().integratedLoudness(of: audio) - -9.896632) < 0.002)
    }

    @Test func silenceIsGatedOutAbsolutely() throws {
        // Averaging 4 s of tone with 6 s of silence would read 4 LU lower (10·log10(0.4));
        // the -70 LUFS gate drops the silent blocks, and only the blocks that straddle the
        // boundary pull it down a little. pyloudnorm: -23.0568 and -23.2228.
        let tone = Fixtures.sine(frequency: 1000, amplitude: 0.1, seconds: 4, sampleRate: 24000)
        var withSilence = tone
        withSilence.append(.silence(seconds: 6, sampleRate: 24000))
        let meter = LoudnessMeter()
        let toneLoudness = try meter.integratedLoudness(of: tone)
        let gated = try meter.integratedLoudness(of: withSilence)
        #expect(abs(toneLoudness - -23.056829) < 0.002)
        #expect(abs(gated - -23.222801) < 0.002)
        #expect(toneLoudness - gated < 0.5)
    }

    @Test func quietPassagesAreGatedOutRelatively() throws {
        // 14 dB down is far above the -70 LUFS absolute gate but below the -10 LU relative one; a
        // gate at -20 LU, or none, would average it in and read almost 3 LU lower.
        // pyloudnorm: -9.0774 and -9.2366.
        let loud = Fixtures.sine(frequency: 1000, amplitude: 0.5, seconds: 4, sampleRate: 24000)
        var programme = loud
        programme.append(Fixtures.sine(frequency: 1000, amplitude: 0.1, seconds: 4, sampleRate: 24000))
        let meter = LoudnessMeter()
        let loudLoudness = try meter.integratedLoudness(of: loud)
        let gated = try meter.integratedLoudness(of: programme)
        #expect(abs(loudLoudness - -9.077429) < 0.002)
        #expect(abs(gated - -9.236639) < 0.002)
        #expect(loudLoudness - gated < 0.5)
    }

    @Test(arguments: [-27.0, -16.0, -35.0])
    func normalisedSpeechMeasuresTheTarget(target: Double) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let speech = try AudioDecoder().decode(contentsOf: Fixtures.espeakSpeech(in: directory))
        let normalised = try speech.loudnessNormalized(toLUFS: target)
        let measured = try LoudnessMeter().integratedLoudness(of: normalised)
        #expect(abs(measured - target) < 0.5)
        #expect(abs(measured - target) < 0.01)
    }

    @Test func silenceHasNoLoudnessAndIsLeftAlone() throws {
        let silence = AudioBuffer.silence(seconds: 2, sampleRate: 16000)
        #expect(try LoudnessMeter().integratedLoudness(of: silence) == -.infinity)
        #expect(try silence.loudnessNormalized(toLUFS: -27) == silence)
    }

    @Test func shorterThanOneBlockIsRefused() throws {
        let short = Fixtures.sine(frequency: 1000, seconds: 0.3, sampleRate: 16000)
        let error = try #require(throws: VoxError.self) { try LoudnessMeter().integratedLoudness(of: short) }
        #expect(error.kind == .invalidAudio)
        #expect(error.message.contains("0.4 s"))
    }
}
