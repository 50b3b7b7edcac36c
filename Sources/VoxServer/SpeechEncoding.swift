import Foundation
import VoxAudio
import VoxCore
import VoxRuntime

/// How `response_format` values become bytes.
///
/// - Whole files (`stream: false`): `wav`, `flac`, `mp3`, `opus` (Ogg Opus), `ogg` (Vorbis) through
///   libsndfile, `aac` (ADTS) through FFmpeg, at the voice's rate (Opus and MP3 at the nearest
///   rate their codec takes).
/// - `pcm`: headerless 16-bit little-endian mono at 24 kHz, as OpenAI sends it (resampled).
/// - Streams (the default): `StreamingAudioEncoder`, the same formats and rates; a streamed `wav`
///   declares an open-ended length.
enum SpeechEncoding {
    /// OpenAI's `pcm` rate.
    static let pcmSampleRate = StreamingAudioEncoder.pcmSampleRate

    /// OpenAI's default is mp3; this build answers wav when libsndfile cannot write MP3.
    static var defaultFormat: AudioFormat { AudioEncoder.canEncode(.mp3) ? .mp3 : .wav }

    static func format(named name: String?) throws -> AudioFormat {
        guard let name else { return defaultFormat }
        let supported = AudioFormat.allCases.filter { AudioEncoder.canEncode($0) && StreamingAudioEncoder.canEncode($0) }
        guard let format = AudioFormat(name: name), supported.contains(format) else {
            throw APIError.badRequest(
                "response_format '\(name.prefix(40))' is not supported; use one of \(supported.map(\.name).joined(separator: ", ")).",
                code: .unsupportedResponseFormat, param: "response_format")
        }
        return format
    }

    static func contentType(_ format: AudioFormat) -> String {
        format == .pcm ? "audio/pcm;rate=\(pcmSampleRate);encoding=s16le;channels=1" : format.mimeType
    }

    /// The sample rate the client receives.
    static func outputSampleRate(_ format: AudioFormat, sourceRate: Int) -> Int {
        format == .pcm ? pcmSampleRate : AudioEncoder.encodedSampleRate(for: format, sourceRate: sourceRate)
    }

    /// A whole utterance as a file.
    static func encode(_ audio: AudioBuffer, as format: AudioFormat) throws -> Data {
        if format == .pcm { return try StreamingAudioEncoder.encodeWhole(audio, as: .pcm) }  // resampled to 24 kHz
        return try AudioEncoder().encode(audio, as: format)
    }
}
