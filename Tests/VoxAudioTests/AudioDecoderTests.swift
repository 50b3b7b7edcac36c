import Foundation
import Testing
import VoxAudio
import VoxCore

@Suite struct AudioDecoderTests {
    /// Decoding `data` must fail with `kind` and a message that contains every fragment.
    func expectRefusal(
        _ data: Data, decoder: AudioDecoder = AudioDecoder(), kind: VoxError.Kind = .invalidAudio, mentions fragments: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let error = try #require(throws: VoxError.self, sourceLocation: sourceLocation) { try decoder.decode(data, label: "voice.bin") }
        #expect(error.kind == kind, sourceLocation: sourceLocation)
        #expect(error.message.contains("'voice.bin'"), sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    // MARK: real recordings

    @Test func decodesEspeakSpeechAndSoxConversionsOfIt() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let wav = try Fixtures.espeakSpeech(in: directory)
        let speech = try AudioDecoder().decode(contentsOf: wav)
        #expect(speech.sampleRate == 22050)
        #expect(speech.duration > 1.5 && speech.duration < 10)
        #expect(speech.rmsDBFS > -40 && speech.peak <= 1)
        #expect(try AudioDecoder().decode(Data(contentsOf: wav)) == speech)

        // FLAC is lossless: the same samples. Stereo with both channels equal averages back to mono.
        let flac = directory.appendingPathComponent("speech.flac")
        try Fixtures.run("sox", [wav.path, flac.path])
        #expect(try AudioDecoder().decode(contentsOf: flac) == speech)
        let stereo = directory.appendingPathComponent("stereo.wav")
        try Fixtures.run("sox", [wav.path, "-c", "2", stereo.path])
        #expect(try AudioDecoder().decode(contentsOf: stereo) == speech)

        // Vorbis and a rate change: length and level survive.
        let ogg = directory.appendingPathComponent("speech44k.ogg")
        try Fixtures.run("sox", [wav.path, "-r", "44100", ogg.path])
        let vorbis = try AudioDecoder().decode(contentsOf: ogg)
        #expect(vorbis.sampleRate == 44100)
        #expect(abs(vorbis.duration - speech.duration) < 0.01)
        #expect(abs(vorbis.rmsDBFS - speech.rmsDBFS) < 1)
    }

    @Test func decodesOpusAndMP3ThatTheEncoderWrote() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let speech = try AudioDecoder().decode(contentsOf: Fixtures.espeakSpeech(in: directory))
        for format in [AudioFormat.opus, .mp3] {
            try #require(AudioEncoder.canEncode(format), AudioEncoderTests.cannotWrite(format))
            let url = directory.appendingPathComponent("speech.\(format.fileExtension)")
            try AudioEncoder().write(speech, to: url)
            let decoded = try AudioDecoder().decode(contentsOf: url)
            #expect(decoded.sampleRate == AudioEncoder.encodedSampleRate(for: format, sourceRate: 22050), "\(format)")
            #expect(abs(decoded.duration - speech.duration) < 0.03, "\(format)")
            #expect(abs(decoded.rmsDBFS - speech.rmsDBFS) < 1.5, "\(format)")
        }
    }

    @Test func channelsAreAveraged() throws {
        // Interleaved stereo: left 0.8, right 0.2 then left -0.6, right 0.
        let frames = 1600
        var interleaved: [Float] = []
        for i in 0..<frames { interleaved += i.isMultiple(of: 2) ? [0.8, 0.2] : [-0.6, 0] }
        let decoded = try AudioDecoder().decode(Fixtures.floatWAV(interleaved, sampleRate: 16000, channels: 2))
        #expect(decoded.samples.count == frames)
        #expect(decoded.samples[0] == 0.5)
        #expect(decoded.samples[1] == -0.3)
    }

    @Test func floatFilesAboveFullScaleAreScaledToPeakOne() throws {
        let samples: [Float] = (0..<2000).map { $0 == 7 ? 2 : ($0 == 9 ? -0.5 : 0.1) }
        let decoded = try AudioDecoder().decode(Fixtures.floatWAV(samples, sampleRate: 16000))
        #expect(decoded.peak == 1)
        #expect(decoded.samples[7] == 1)
        #expect(decoded.samples[9] == -0.25)
        #expect(decoded.samples[0] == 0.05)
    }

    @Test func referenceLabelNamesTheFileInErrors() throws {
        let error = try #require(throws: VoxError.self) {
            try AudioDecoder().decode(VoiceReference(data: Data(), label: "alice.wav"))
        }
        #expect(error.message.contains("'alice.wav'"))
    }

    // MARK: refusals

    @Test func emptyData() throws {
        try expectRefusal(Data(), mentions: ["is empty"])
    }

    @Test func textAndImagesAreNamedAsNotAudio() throws {
        try expectRefusal(Data("Hello, this is a transcript, not a recording.\n".utf8), mentions: ["a text file", "not audio"])
        try expectRefusal(Data("{\"voice\": \"alice\", \"naïve\": true}".utf8), mentions: ["a text file", "not audio"])
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + [UInt8](repeating: 1, count: 40)
        try expectRefusal(Data(png), mentions: ["a PNG image", "not audio"])
    }

    @Test func unknownBinaryIsNotAudio() throws {
        let random = Fixtures.noise(count: 4000, amplitude: 1).map { UInt8(truncatingIfNeeded: Int(($0 + 1) * 127.5)) }
        try expectRefusal(Data([0, 1, 2, 3] + random), mentions: ["is not audio in a format VoxServe reads"])
    }

    @Test func wavCutInTheDataIsTruncated() throws {
        let wav = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 1, sampleRate: 16000))
        try expectRefusal(wav.prefix(wav.count / 2), mentions: ["truncated", "promises 32000 bytes"])
    }

    @Test func wavCutInTheHeaderIsDamaged() throws {
        let wav = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 1, sampleRate: 16000))
        try expectRefusal(wav.prefix(30), mentions: ["damaged or truncated", "libsndfile"])
    }

    @Test func flacCutShortOrOverwrittenIsDamaged() throws {
        let flac = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 3, sampleRate: 16000), as: .flac)
        try expectRefusal(flac.prefix(flac.count / 2), mentions: ["truncated", "48000 frames"])
        var corrupt = flac
        for i in stride(from: flac.count / 3, to: flac.count / 3 + 600, by: 1) { corrupt[i] = 0xA5 }
        try expectRefusal(corrupt, mentions: ["damaged"])
    }

    @Test func oggCutInsideAPageIsTruncated() throws {
        let ogg = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 3, sampleRate: 22050), as: .ogg)
        try expectRefusal(ogg.prefix(ogg.count * 2 / 3), mentions: ["truncated"])
    }

    @Test func mp3CutShortIsTruncated() throws {
        try #require(AudioEncoder.canEncode(.mp3), AudioEncoderTests.cannotWrite(.mp3))
        let mp3 = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 3, sampleRate: 22050), as: .mp3)
        try expectRefusal(mp3.prefix(mp3.count / 2), mentions: ["truncated", "66150 frames"])
    }

    @Test func tooLong() throws {
        let wav = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 2, sampleRate: 16000))
        let decoder = AudioDecoder(limits: .init(maxDuration: 1.5))
        try expectRefusal(wav, decoder: decoder, mentions: ["too long", "2.00 s", "1.50 s"])
        // An Ogg file is checked against its declared length too.
        let ogg = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 2, sampleRate: 16000), as: .ogg)
        try expectRefusal(ogg, decoder: decoder, mentions: ["too long"])
        #expect(try AudioDecoder(limits: .init(maxDuration: 2.5)).decode(wav).duration == 2)
    }

    @Test func tooLarge() throws {
        let wav = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 1, sampleRate: 16000))
        try expectRefusal(wav, decoder: AudioDecoder(limits: .init(maxBytes: 10_000)), mentions: ["too large", "32044 bytes", "10000 bytes"])

        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("big.wav")
        try wav.write(to: url)
        let error = try #require(throws: VoxError.self) { try AudioDecoder(limits: .init(maxBytes: 10_000)).decode(contentsOf: url) }
        #expect(error.kind == .invalidAudio)
        #expect(error.message.contains("'big.wav' is too large"))
    }

    @Test func headerWithoutFrames() throws {
        let empty = try AudioEncoder().encode(AudioBuffer(samples: [], sampleRate: 16000))
        #expect(empty.count == 44)
        try expectRefusal(empty, mentions: ["no audio frames"])
    }

    @Test func tooShort() throws {
        let wav = try AudioEncoder().encode(Fixtures.sine(frequency: 440, seconds: 0.05, sampleRate: 16000))
        try expectRefusal(wav, mentions: ["too short", "0.05 s", "0.10 s"])
        let decoder = AudioDecoder(limits: .init(minDuration: 0.01))
        #expect(try decoder.decode(wav).samples.count == 800)
    }

    @Test func nonFiniteSamplesAreRefused() throws {
        for bad in [Float.nan, .infinity, -.infinity] {
            var samples = [Float](repeating: 0.1, count: 4000)
            samples[1234] = bad
            try expectRefusal(Fixtures.floatWAV(samples, sampleRate: 16000), mentions: ["NaN or infinite"])
        }
    }

    @Test func missingFileIsAnIOError() throws {
        let error = try #require(throws: VoxError.self) {
            try AudioDecoder().decode(contentsOf: URL(fileURLWithPath: "/nonexistent/voxserve/ref.wav"))
        }
        #expect(error.kind == .io)
        #expect(error.message.contains("/nonexistent/voxserve/ref.wav"))
    }
}
