import Foundation
import VoxCore

/// WAV for HTTP streaming: send `header(sampleRate:)` once, then `pcm16(_:)` of each chunk as it is
/// ready. The header declares an open-ended stream (RIFF and data sizes 0xFFFFFFFF), which players
/// and decoders (libsndfile, ffmpeg, browsers) read until the connection closes.
public enum WAVStream {
    /// Bytes in `header(sampleRate:)`.
    public static let headerSize = 44

    /// A 44-byte canonical WAV header for 16-bit mono PCM at `sampleRate` with unknown length.
    public static func header(sampleRate: Int) -> Data {
        precondition(sampleRate > 0 && sampleRate <= Int(UInt32.max) / 2, "sample rate out of range")
        let channels: UInt16 = 1
        let bitsPerSample: UInt16 = 16
        let blockAlign = channels * bitsPerSample / 8
        var data = Data(capacity: headerSize)
        data.append(contentsOf: Array("RIFF".utf8))
        append(UInt32.max, to: &data)
        data.append(contentsOf: Array("WAVE".utf8))
        data.append(contentsOf: Array("fmt ".utf8))
        append(UInt32(16), to: &data)
        append(UInt16(1), to: &data)  // WAVE_FORMAT_PCM
        append(channels, to: &data)
        append(UInt32(sampleRate), to: &data)
        append(UInt32(sampleRate) * UInt32(blockAlign), to: &data)
        append(blockAlign, to: &data)
        append(bitsPerSample, to: &data)
        data.append(contentsOf: Array("data".utf8))
        append(UInt32.max, to: &data)
        return data
    }

    /// The buffer as 16-bit little-endian PCM: clipped to [-1, 1], NaN as silence.
    public static func pcm16(_ buffer: AudioBuffer) -> Data {
        PCM16.littleEndianBytes(buffer.samples)
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to data: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
}
