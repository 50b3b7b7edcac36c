import Testing
import VoxAudio
import VoxCore

@Suite struct ResamplerTests {
    @Test(arguments: [16000, 24000, 44100, 8000])
    func keepsDurationPitchAndLevel(targetRate: Int) throws {
        let source = Fixtures.sine(frequency: 440, amplitude: 0.5, seconds: 2, sampleRate: 22050)
        let resampled = try Resampler.resample(source, to: targetRate)
        #expect(resampled.sampleRate == targetRate)
        let expectedCount = Double(source.samples.count) * Double(targetRate) / 22050
        #expect(abs(Double(resampled.samples.count) - expectedCount) <= 2, "\(resampled.samples.count) vs \(expectedCount)")
        #expect(abs(Fixtures.zeroCrossingFrequency(resampled) - 440) < 1, "\(Fixtures.zeroCrossingFrequency(resampled)) Hz")
        // Away from the edges the tone keeps its amplitude.
        let middle = resampled.samples[(targetRate / 4)..<(resampled.samples.count - targetRate / 4)]
        #expect(abs(middle.map(abs).max()! - 0.5) < 0.005)
    }

    @Test func keepsTheWaveformNotJustItsLength() throws {
        // Resampled, a sine is the same sine sampled at the new rate.
        let source = Fixtures.sine(frequency: 440, amplitude: 0.5, seconds: 1, sampleRate: 22050)
        let resampled = try Resampler.resample(source, to: 16000)
        let ideal = Fixtures.sine(frequency: 440, amplitude: 0.5, seconds: 1, sampleRate: 16000)
        let middle = 2000..<14000
        #expect(Fixtures.maxDifference(Array(resampled.samples[middle]), Array(ideal.samples[middle])) < 0.002)
    }

    @Test func removesContentAboveTheNewNyquistFrequency() throws {
        // 10 kHz cannot exist at 16 kHz: a good resampler filters it out instead of aliasing it to 6 kHz.
        let source = Fixtures.sine(frequency: 10000, amplitude: 0.5, seconds: 1, sampleRate: 44100)
        let resampled = try Resampler.resample(source, to: 16000)
        // Away from the edges, where starting and stopping the tone spreads some energy down.
        let middle = AudioBuffer(samples: Array(resampled.samples[1600..<14400]), sampleRate: 16000)
        #expect(middle.rmsDBFS < source.rmsDBFS - 90, "\(middle.rmsDBFS) dBFS")
    }

    @Test func sameRateIsIdentity() throws {
        let source = Fixtures.sine(frequency: 440, seconds: 0.5, sampleRate: 24000)
        #expect(try Resampler.resample(source, to: 24000) == source)
    }

    @Test func emptyStaysEmptyAtTheNewRate() throws {
        let resampled = try Resampler.resample(AudioBuffer(samples: [], sampleRate: 22050), to: 16000)
        #expect(resampled == AudioBuffer(samples: [], sampleRate: 16000))
    }

    @Test func nonPositiveTargetRateIsRefused() throws {
        let error = try #require(throws: VoxError.self) {
            try Resampler.resample(Fixtures.sine(frequency: 440, seconds: 0.1, sampleRate: 22050), to: 0)
        }
        #expect(error.kind == .invalidInput)
        #expect(error.message.contains("0 Hz"))
    }
}
