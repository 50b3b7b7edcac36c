import CAudioIO
import Foundation
import VoxCore

/// Encodes mono audio as WAV, FLAC, Ogg Vorbis, Ogg Opus, MP3 (where libsndfile can write it) or
/// raw 16-bit PCM, in memory through libsndfile's virtual I/O; AAC (ADTS), which libsndfile does
/// not write, through FFmpeg (`StreamingAudioEncoder`).
///
/// Samples are clipped to [-1, 1] for every format except float32 WAV. Audio holding NaN or
/// infinite samples is refused, never written. Opus and MP3 accept only some sample rates: other
/// rates are resampled to the nearest higher rate they accept (`encodedSampleRate(for:sourceRate:)`).
/// Empty audio gives an empty WAV, Ogg or PCM stream; FLAC and MP3 refuse it (libsndfile would
/// write nothing at all).
public struct AudioEncoder: Sendable {
    /// Sample format of `.wav` output.
    public var wavSampleFormat: WAVSampleFormat
    /// libsndfile's compression level for FLAC, Vorbis, Opus and MP3: 0 is the best quality,
    /// 1 the smallest file; nil keeps the codec's default.
    public var compressionLevel: Double?

    public init(wavSampleFormat: WAVSampleFormat = .int16, compressionLevel: Double? = nil) {
        self.wavSampleFormat = wavSampleFormat
        self.compressionLevel = compressionLevel
    }

    /// Rates libsndfile's Opus encoder accepts.
    public static let opusSampleRates = [8000, 12000, 16000, 24000, 48000]
    /// Rates an MPEG-1/2/2.5 Layer III stream can carry.
    public static let mp3SampleRates = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]

    /// True when this build can write `format`. Only MP3 depends on how libsndfile was built, and
    /// AAC on FFmpeg's encoder.
    public static func canEncode(_ format: AudioFormat) -> Bool {
        if format == .aac { return StreamingAudioEncoder.canEncode(.aac) }
        guard let code = soundFileFormat(format, wav: .int16) else { return true }
        var info = SF_INFO()
        info.format = code
        info.samplerate = 24000
        info.channels = 1
        return sf_format_check(&info) == Int32(SF_TRUE)
    }

    /// The sample rate `format` is written at, for audio at `sourceRate`: the same rate, except
    /// for Opus and MP3, which take the nearest higher rate they support (or their highest).
    public static func encodedSampleRate(for format: AudioFormat, sourceRate: Int) -> Int {
        let supported: [Int]
        switch format {
        case .opus: supported = opusSampleRates
        case .mp3: supported = mp3SampleRates
        case .wav, .flac, .ogg, .pcm, .aac: return sourceRate  // AAC takes every common rate from 7.35 to 96 kHz
        }
        return supported.first { $0 >= sourceRate } ?? supported.last!
    }

    /// The encoded bytes of `buffer` in `format`.
    public func encode(_ buffer: AudioBuffer, as format: AudioFormat = .wav) throws -> Data {
        // libsndfile's header field is 32 bits wide: a larger rate would trap converting to it.
        guard buffer.sampleRate > 0, buffer.sampleRate <= Int(Int32.max) else {
            throw VoxError.invalidAudio("Cannot encode audio whose sample rate is \(buffer.sampleRate) Hz.")
        }
        guard buffer.isFinite else {
            throw VoxError.invalidAudio(
                "Cannot encode \(format.name): the audio contains NaN or infinite samples, so synthesis went wrong upstream."
            )
        }
        if let level = compressionLevel, !(0...1).contains(level) {
            throw VoxError.invalidInput("compression level must be between 0 and 1 (got \(level)).")
        }
        if format == .pcm {
            return PCM16.littleEndianBytes(buffer.samples)
        }
        if format == .aac {
            guard !buffer.isEmpty else { throw VoxError.invalidAudio("There is no audio to encode as aac: the buffer is empty.") }
            return try StreamingAudioEncoder.encodeWhole(buffer, as: .aac)
        }
        guard Self.canEncode(format), let code = Self.soundFileFormat(format, wav: wavSampleFormat) else {
            throw VoxError(
                .unsupported,
                "This build of libsndfile cannot write \(format.name); choose wav, flac, ogg, opus or pcm instead."
            )
        }

        let rate = Self.encodedSampleRate(for: format, sourceRate: buffer.sampleRate)
        let audio = try Resampler.resample(buffer, to: rate)
        let storage = VirtualFile()
        do {
            let file = try SoundFile(writing: storage, format: code, sampleRate: rate)
            if let level = compressionLevel, format != .wav {
                try file.setCompressionLevel(level)
            }
            if format == .wav && wavSampleFormat == .float32 {
                try file.write(audio.samples)
            } else if format == .wav || format == .flac {
                try file.write(PCM16.samples(audio.samples))
            } else {
                try file.write(audio.samples.map { $0.isNaN ? 0 : min(max($0, -1), 1) })
            }
            try file.close()
        } catch {
            let failure = error as? SoundFileError
            let message = failure?.message ?? "\(error)"
            throw VoxError(
                failure?.kind == .system ? .io : .unsupported,
                "Encoding \(audio.samples.count) samples at \(rate) Hz as \(format.name) failed (libsndfile: \(message)).",
                detail: message
            )
        }
        guard !storage.bytes.isEmpty else {
            // libsndfile writes FLAC and MP3 headers with the first samples, so no samples means no file.
            throw VoxError.invalidAudio("There is no audio to encode as \(format.name): the buffer is empty.")
        }
        return Data(storage.bytes)
    }

    /// Writes `buffer` to `url` in `format`, or in the format its extension names when nil.
    /// The file is written whole (to a temporary file, then renamed).
    public func write(_ buffer: AudioBuffer, to url: URL, as format: AudioFormat? = nil) throws {
        guard let format = format ?? AudioFormat(fileExtension: url.pathExtension) else {
            throw VoxError(
                .unsupported,
                "Cannot tell the audio format from the file name \(url.lastPathComponent): use .wav, .flac, .ogg, .opus, .mp3 or .pcm."
            )
        }
        let data = try encode(buffer, as: format)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw VoxError.io("Cannot write \(url.path): \(error.localizedDescription)", path: url.path)
        }
    }

    /// libsndfile's major format and subtype for `format`; nil for raw PCM, which needs no libsndfile.
    private static func soundFileFormat(_ format: AudioFormat, wav: WAVSampleFormat) -> Int32? {
        let code: Int
        switch format {
        case .wav: code = SF_FORMAT_WAV | (wav == .float32 ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16)
        case .flac: code = SF_FORMAT_FLAC | SF_FORMAT_PCM_16
        case .ogg: code = SF_FORMAT_OGG | SF_FORMAT_VORBIS
        case .opus: code = SF_FORMAT_OGG | SF_FORMAT_OPUS
        case .mp3: code = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III
        case .pcm, .aac: return nil
        }
        return Int32(code)
    }
}
