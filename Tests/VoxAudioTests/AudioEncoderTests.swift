import Foundation
import Testing
import VoxAudio
import VoxCore

@Suite struct AudioEncoderTests {
    /// Why a test fails when libsndfile cannot write `format`. Only MP3 depends on how libsndfile
    /// was built, and setup installs one that writes it: these tests fail rather than skip.
    static func cannotWrite(_ format: AudioFormat) -> Comment {
        "libsndfile cannot write \(format.name.uppercased()) on this machine; setup should install libsndfile 1.2 with MP3 support (scripts/setup.sh installs Debian bookworm's libsndfile1-dev 1.2, which writes MP3)"
    }

    /// A 440 Hz tone with noise, full-scale peaks and both extremes, so every sample value matters.
    static func testSignal(sampleRate: Int) -> AudioBuffer {
        var buffer = Fixtures.sine(frequency: 440, amplitude: 0.6, seconds: 1.5, sampleRate: sampleRate)
        let noise = Fixtures.noise(count: buffer.samples.count, amplitude: 0.05)
        for i in buffer.samples.indices { buffer.samples[i] += noise[i] }
        buffer.samples[100] = 1
        buffer.samples[101] = -1
        buffer.samples[102] = 0.99999
        return buffer
    }

    @Test(arguments: [16000, 22050, 44100])
    func losslessFormatsRoundTripWithinOneStep(sampleRate: Int) throws {
        let original = Self.testSignal(sampleRate: sampleRate)
        for format in [AudioFormat.wav, .flac] {
            let decoded = try AudioDecoder().decode(AudioEncoder().encode(original, as: format))
            #expect(decoded.sampleRate == sampleRate, "\(format)")
            #expect(decoded.samples.count == original.samples.count, "\(format)")
            #expect(Fixtures.maxDifference(decoded.samples, original.samples) <= 1 / 32768, "\(format)")
        }
    }

    @Test func float32WAVRoundTripsExactly() throws {
        let original = Self.testSignal(sampleRate: 24000)
        let data = try AudioEncoder(wavSampleFormat: .float32).encode(original, as: .wav)
        #expect(Fixtures.read(UInt16.self, data, at: 20) == 3)  // WAVE_FORMAT_IEEE_FLOAT
        #expect(try AudioDecoder().decode(data) == original)
    }

    @Test func sixteenBitWAVIsCanonicalPCM() throws {
        let data = try AudioEncoder().encode(Self.testSignal(sampleRate: 22050))
        #expect(data.prefix(4) == Data("RIFF".utf8))
        #expect(Fixtures.read(UInt16.self, data, at: 20) == 1)  // WAVE_FORMAT_PCM
        #expect(Fixtures.read(UInt16.self, data, at: 34) == 16)
        #expect(Fixtures.read(UInt32.self, data, at: 24) == 22050)
    }

    @Test(arguments: [AudioFormat.ogg, .opus, .mp3], [22050, 24000, 44100])
    func lossyFormatsKeepRateDurationPitchAndLevel(format: AudioFormat, sampleRate: Int) throws {
        guard AudioEncoder.canEncode(format) else {
            // The encoder must refuse with a clear error rather than write a broken file; but setup
            // installs a libsndfile that writes every lossy format, so this machine is not set up.
            let error = try #require(throws: VoxError.self) { try AudioEncoder().encode(Self.testSignal(sampleRate: sampleRate), as: format) }
            #expect(error.kind == .unsupported)
            Issue.record(Self.cannotWrite(format))
            return
        }
        let original = Fixtures.sine(frequency: 440, amplitude: 0.5, seconds: 2, sampleRate: sampleRate)
        let data = try AudioEncoder().encode(original, as: format)
        let decoded = try AudioDecoder().decode(data)

        let expectedRate = AudioEncoder.encodedSampleRate(for: format, sourceRate: sampleRate)
        #expect(decoded.sampleRate == expectedRate)
        #expect(abs(decoded.duration - original.duration) < 0.03, "duration \(decoded.duration)")
        #expect(abs(Fixtures.zeroCrossingFrequency(decoded) - 440) < 2, "frequency \(Fixtures.zeroCrossingFrequency(decoded))")
        #expect(abs(decoded.rmsDBFS - original.rmsDBFS) < 1, "level \(decoded.rmsDBFS) vs \(original.rmsDBFS)")
    }

    @Test func containersCarryTheirSignatures() throws {
        let audio = Self.testSignal(sampleRate: 24000)
        #expect(try AudioEncoder().encode(audio, as: .flac).prefix(4) == Data("fLaC".utf8))
        #expect(try AudioEncoder().encode(audio, as: .ogg).prefix(4) == Data("OggS".utf8))
        let opus = try AudioEncoder().encode(audio, as: .opus)
        #expect(opus.prefix(4) == Data("OggS".utf8))
        #expect(opus.range(of: Data("OpusHead".utf8)) != nil)
    }

    @Test func opusAndMP3RatesAreTheNearestSupportedOnes() {
        #expect(AudioEncoder.encodedSampleRate(for: .opus, sourceRate: 22050) == 24000)
        #expect(AudioEncoder.encodedSampleRate(for: .opus, sourceRate: 44100) == 48000)
        #expect(AudioEncoder.encodedSampleRate(for: .opus, sourceRate: 16000) == 16000)
        #expect(AudioEncoder.encodedSampleRate(for: .opus, sourceRate: 96000) == 48000)
        #expect(AudioEncoder.encodedSampleRate(for: .mp3, sourceRate: 22050) == 22050)
        #expect(AudioEncoder.encodedSampleRate(for: .mp3, sourceRate: 37000) == 44100)
        #expect(AudioEncoder.encodedSampleRate(for: .wav, sourceRate: 37000) == 37000)
    }

    @Test func rawPCMIsTheStreamingBytes() throws {
        let audio = Self.testSignal(sampleRate: 22050)
        let pcm = try AudioEncoder().encode(audio, as: .pcm)
        #expect(pcm.count == audio.samples.count * 2)
        #expect(pcm == WAVStream.pcm16(audio))
    }

    @Test func samplesBeyondFullScaleAreClippedNotWrapped() throws {
        let loud = AudioBuffer(samples: [1.5, -1.5, 0.25] + [Float](repeating: 0, count: 2000), sampleRate: 16000)
        let decoded = try AudioDecoder().decode(AudioEncoder().encode(loud, as: .wav))
        #expect(decoded.samples[0] == Float(32767) / 32768)
        #expect(decoded.samples[1] == -1)
        #expect(decoded.samples[2] == 0.25)
    }

    @Test func nonFiniteAudioIsRefused() throws {
        var audio = Self.testSignal(sampleRate: 16000)
        audio.samples[10] = .infinity
        for format in [AudioFormat.wav, .flac, .pcm] {
            let error = try #require(throws: VoxError.self) { try AudioEncoder().encode(audio, as: format) }
            #expect(error.kind == .invalidAudio)
            #expect(error.message.contains("NaN or infinite"))
        }
    }

    @Test func writeChoosesTheFormatFromTheExtension() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let audio = Self.testSignal(sampleRate: 16000)
        let url = directory.appendingPathComponent("out.flac")
        try AudioEncoder().write(audio, to: url)
        #expect(try Data(contentsOf: url).prefix(4) == Data("fLaC".utf8))
        let decoded = try AudioDecoder().decode(contentsOf: url)
        #expect(decoded.samples.count == audio.samples.count)

        let error = try #require(throws: VoxError.self) {
            try AudioEncoder().write(audio, to: directory.appendingPathComponent("out.xyz"))
        }
        #expect(error.kind == .unsupported)
        #expect(error.message.contains("out.xyz"))
    }

    @Test func compressionLevelOutsideZeroToOneIsRefused() throws {
        let error = try #require(throws: VoxError.self) {
            try AudioEncoder(compressionLevel: 1.5).encode(Self.testSignal(sampleRate: 16000), as: .ogg)
        }
        #expect(error.kind == .invalidInput)
    }

    @Test func compressionLevelChangesVorbisSize() throws {
        let audio = Self.testSignal(sampleRate: 22050)
        let best = try AudioEncoder(compressionLevel: 0).encode(audio, as: .ogg)
        let smallest = try AudioEncoder(compressionLevel: 1).encode(audio, as: .ogg)
        #expect(smallest.count < best.count)
    }
}

extension AudioEncoderTests {
    @Test(arguments: AudioFormat.allCases)
    func emptyAudioMakesAnEmptyFileOrIsRefused(format: AudioFormat) throws {
        try #require(AudioEncoder.canEncode(format), Self.cannotWrite(format))
        let empty = AudioBuffer(samples: [], sampleRate: 24000)
        switch format {
        case .pcm: #expect(try AudioEncoder().encode(empty, as: format).isEmpty)
        case .wav: #expect(try AudioEncoder().encode(empty, as: format).count == 44)
        case .ogg, .opus: #expect(try AudioEncoder().encode(empty, as: format).prefix(4) == Data("OggS".utf8))
        case .flac, .mp3, .aac:
            // libsndfile (and the AAC path) writes these headers only with the first samples: never hand out a 0-byte file.
            let error = try #require(throws: VoxError.self) { try AudioEncoder().encode(empty, as: format) }
            #expect(error.kind == .invalidAudio)
            #expect(error.message.contains("empty"))
        }
    }
}
