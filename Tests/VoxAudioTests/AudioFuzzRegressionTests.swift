import Foundation
import Testing
import VoxAudio
import VoxCore

/// Inputs that `make fuzz` (Fuzz/FuzzAudioDecoder, Fuzz/FuzzPiperConfig) found to break the audio
/// code, minimised. Each must now give a clear `VoxError` or audio within the documented range.
@Suite struct AudioFuzzRegressionTests {
    /// A 32-bit float WAV at 1041 Hz, 14 frames, one of them -2.6e38. Scaling by 1 / peak (a
    /// subnormal Float) left that sample just below -1, against the decoder's promise of [-1, 1].
    static let hugeFloatPeakWAV = Data(base64Encoded:
        "UklGRrICAABXQVZFZm10IBIAAAADAAEAEQQAAAAAAAAEACAAAQFkYXRh/////2C90Tz0Uj7nTnA+NJntAQAAADE/PuQ61KzRQ2hhcj6kmT5yrNEuRf+kmT4+")!

    /// The first Ogg page of a Vorbis stream and nothing after it. libsndfile 1.2.0 / libvorbis
    /// 1.3.7 leak ~5.8 KB each time they fail to open it (see Fuzz/lsan.supp); it must be refused.
    static let vorbisIdentificationOnly = Data(base64Encoded:
        "T2dnUwACAAAAAAAAAADPyjEiAAAAAHJw0+IBHgF2b3JiaXMAAAAAAUAfAAAAAAAAgFcAAAAAAACZAQ==")!

    @Test func aHugeFloatPeakIsScaledToExactlyFullScale() throws {
        let decoder = AudioDecoder(limits: .init(minDuration: 0.01))
        let audio = try decoder.decode(Self.hugeFloatPeakWAV, label: "fuzz.wav")
        #expect(audio.sampleRate == 1041)
        #expect(audio.samples.allSatisfy { abs($0) <= 1 }, "\(audio.samples)")
        #expect(audio.samples.map(abs).max() == 1)
    }

    @Test func samplesAtFloatsLargestMagnitudeStayWithinFullScale() throws {
        for peak in [Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude, 2.6e38, 1.0000001] {
            var samples = [Float](repeating: 0.25, count: 800)
            samples[400] = peak
            samples[401] = -peak
            let wav = floatWAV(samples, sampleRate: 8000)
            let audio = try AudioDecoder().decode(wav, label: "peak.wav")
            #expect(audio.samples.allSatisfy { abs($0) <= 1 }, "peak \(peak)")
            #expect(audio.samples.map(abs).max() == 1, "peak \(peak)")
        }
    }

    @Test func aVorbisStreamCutAfterItsFirstPageIsRefused() throws {
        let error = try #require(throws: VoxError.self) { try AudioDecoder().decode(Self.vorbisIdentificationOnly, label: "cut.ogg") }
        #expect(error.kind == .invalidAudio)
        #expect(error.message.contains("'cut.ogg'"), "\(error.message)")
    }

    /// Fuzz/FuzzPiperConfig: a voice config with `sample_rate` 2205016000 made every WAV of that
    /// voice trap converting the rate to libsndfile's 32-bit field.
    @Test func theEncoderRefusesASampleRateBeyond32Bits() throws {
        let audio = AudioBuffer(samples: [0, 0.5, -0.5, 0], sampleRate: 2_205_016_000)
        for format in [AudioFormat.wav, .flac] {
            let error = try #require(throws: VoxError.self) { try AudioEncoder().encode(audio, as: format) }
            #expect(error.kind == .invalidAudio)
            #expect(error.message.contains("2205016000 Hz"), "\(error.message)")
        }
    }

    /// A mono 32-bit float WAV (WAVE_FORMAT_IEEE_FLOAT) holding `samples` as they are.
    private func floatWAV(_ samples: [Float], sampleRate: Int) -> Data {
        var data = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let bytes = UInt32(samples.count * 4)
        data.append(contentsOf: Array("RIFF".utf8)); u32(36 + bytes)
        data.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16)
        u16(3); u16(1); u32(UInt32(sampleRate)); u32(UInt32(sampleRate) * 4); u16(4); u16(32)
        data.append(contentsOf: Array("data".utf8)); u32(bytes)
        for x in samples { u32(x.bitPattern) }
        return data
    }
}
