import Foundation
import Testing
import VoxCore
@testable import VoxAudio

/// The streaming encoder's output, read back by FFmpeg's own command-line decoder (Debian's
/// `ffmpeg`, installed by setup): a separate reader from the library that wrote it.
@Suite struct StreamingAudioEncoderTests {
    /// Decodes `data` with the ffmpeg CLI to mono float samples at `rate`.
    static func decode(_ data: Data, rate: Int, format: AudioFormat) throws -> [Float] {
        let input: [String] = format == .pcm ? ["-f", "s16le", "-ar", "\(rate)", "-ac", "1"] : []
        let result = try ProcessRunner.run(
            tool: "ffmpeg", ["-v", "error", "-nostdin"] + input + ["-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", "\(rate)", "pipe:1"], stdin: data)
        try #require(result.status == 0, "ffmpeg could not decode \(format.name): \(result.stderrText)")
        return result.stdout.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func rms(_ samples: some Collection<Float>) -> Float {
        samples.isEmpty ? 0 : (samples.reduce(0) { $0 + $1 * $1 } / Float(samples.count)).squareRoot()
    }

    @Test(arguments: [AudioFormat.mp3, .opus, .ogg, .flac, .aac, .wav, .pcm])
    func streamedPiecesMakeOneFileOfTheRightLength(format: AudioFormat) throws {
        let encoder = try StreamingAudioEncoder(format: format, sourceRate: 22050)
        var pieces: [Data] = []
        for frequency in [220.0, 330.0, 440.0] {
            pieces.append(try encoder.encode(Fixtures.sine(frequency: frequency, amplitude: 0.4, seconds: 1, sampleRate: 22050)))
        }
        pieces.append(try encoder.finish())
        // Streaming: the first second's bytes leave the encoder with it, not at the end.
        #expect(pieces[0].count > 1000, "\(format.name): the first piece gave only \(pieces[0].count) bytes")
        let firstAlone = try Self.decode(pieces[0], rate: encoder.outputRate, format: format)
        #expect(Double(firstAlone.count) / Double(encoder.outputRate) > 0.8, "\(format.name): the first piece alone decodes to \(firstAlone.count) samples")

        let whole = try Self.decode(pieces.reduce(Data(), +), rate: encoder.outputRate, format: format)
        let seconds = Double(whole.count) / Double(encoder.outputRate)
        #expect(abs(seconds - 3) < 0.08, "\(format.name): \(seconds) s decoded, 3 s sent")
        if format == .flac || format == .wav {
            #expect(whole.count == 3 * 22050, "\(format.name) is lossless: every sample comes back")
        }
        // The audio survives: a 0.4 sine has an RMS of 0.283 in every second.
        for second in 0..<3 {
            let slice = whole.dropFirst(second * encoder.outputRate + encoder.outputRate / 4).prefix(encoder.outputRate / 2)
            #expect(abs(Self.rms(slice) - 0.283) < 0.03, "\(format.name): second \(second) has RMS \(Self.rms(slice))")
        }
    }

    @Test func ratesFollowTheCodec() throws {
        #expect(try StreamingAudioEncoder(format: .opus, sourceRate: 22050).outputRate == 24000)
        #expect(try StreamingAudioEncoder(format: .mp3, sourceRate: 22050).outputRate == 22050)
        #expect(try StreamingAudioEncoder(format: .aac, sourceRate: 22050).outputRate == 22050)
        #expect(try StreamingAudioEncoder(format: .pcm, sourceRate: 22050).outputRate == 24000)
        #expect(try StreamingAudioEncoder(format: .wav, sourceRate: 16000).outputRate == 16000)
    }

    @Test func refusesWhatItCannotWrite() throws {
        let encoder = try StreamingAudioEncoder(format: .mp3, sourceRate: 22050)
        #expect(throws: VoxError.self) { try encoder.encode(AudioBuffer(samples: [0.1, .nan], sampleRate: 22050)) }
        #expect(throws: VoxError.self) { try encoder.encode(AudioBuffer(samples: [0.1], sampleRate: 16000)) }
        #expect(throws: VoxError.self) { try StreamingAudioEncoder(format: .flac, sourceRate: 0) }
        _ = try encoder.finish()
        #expect(throws: VoxError.self) { try encoder.encode(AudioBuffer(samples: [0.1], sampleRate: 22050)) }
    }

    @Test func aacThroughTheWholeFileEncoder() throws {
        let data = try AudioEncoder().encode(Fixtures.sine(frequency: 300, seconds: 2, sampleRate: 22050), as: .aac)
        #expect(data.prefix(2) == Data([0xFF, 0xF1]), "not an ADTS sync word")
        let decoded = try Self.decode(data, rate: 22050, format: .aac)
        // ADTS cannot say how many samples are priming (1024) or padding in the last frame.
        let seconds = Double(decoded.count) / 22050
        let slack: Double = 2 * 1024 / 22050 + 0.01
        #expect(abs(seconds - 2) < slack)
        #expect(AudioFormat(fileExtension: "aac") == .aac && AudioFormat(name: "AAC") == .aac)
    }
}

@Suite struct TimeStretchTests {
    /// Duration scales exactly; pitch stays (the zero-crossing rate of a sine is its frequency).
    @Test(arguments: [0.25, 0.5, 2.0, 4.0])
    func durationScalesAndPitchStays(ratio: Double) throws {
        let tone = Fixtures.sine(frequency: 300, amplitude: 0.5, seconds: 2, sampleRate: 22050)
        let stretched = try TimeStretch.stretch(tone, by: ratio)
        let expected = Double(tone.samples.count) * ratio
        #expect(abs(Double(stretched.samples.count) - expected) / expected < 0.01, "\(stretched.samples.count) samples for ratio \(ratio)")
        let middle = stretched.samples.dropFirst(stretched.samples.count / 4).prefix(stretched.samples.count / 2)
        var crossings = 0
        for (a, b) in zip(middle, middle.dropFirst()) where (a < 0) != (b < 0) { crossings += 1 }
        let frequency = Double(crossings) / 2 / (Double(middle.count) / 22050)
        #expect(abs(frequency - 300) < 15, "pitch moved to \(frequency) Hz at ratio \(ratio)")
    }

    @Test func refusesRatiosOutsideSpeedsRange() throws {
        let tone = Fixtures.sine(frequency: 300, seconds: 0.5, sampleRate: 22050)
        #expect(throws: VoxError.self) { try TimeStretch.stretch(tone, by: 5) }
        #expect(throws: VoxError.self) { try TimeStretch.stretch(tone, by: .nan) }
        #expect(try TimeStretch.stretch(tone, by: 1) == tone)
    }
}
