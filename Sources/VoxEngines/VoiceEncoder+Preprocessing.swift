import Foundation
import VoxAudio
import VoxCore

extension VoiceEncoder {
    /// Applies the configuration's preprocessing (`VoiceEncoderConfiguration.Preprocessing`) to
    /// 16 kHz audio. Separate from `embed(_:)` so that callers can embed audio exactly as given.
    /// Resemblyzer's volume normalisation and librosa's edge trim are VoxAudio's
    /// (`AudioBuffer.volumeNormalized(toDBFS:increaseOnly:)`, `AudioBuffer.trimmingSilence(topDB:)`).
    public func preprocess(_ audio16k: [Float]) -> [Float] {
        let audio = AudioBuffer(samples: audio16k, sampleRate: Self.sampleRate)
        switch configuration.preprocessing {
        case .none:
            return audio16k
        case .resemblyzer(let target):
            return Self.trimLongSilences(audio.volumeNormalized(toDBFS: Double(target), increaseOnly: true).samples)
        case .trimEdges(let topDB):
            return audio.trimmingSilence(topDB: Double(topDB)).samples
        }
    }

    /// Shortens silences to at most about 200 ms, in the manner of Resemblyzer's
    /// `trim_long_silences`: 30 ms windows are marked as voice or not, the marks are smoothed
    /// with a moving average over 8 windows and dilated by 3 windows on each side, and unmarked
    /// windows are dropped (as is the tail after the last whole window).
    ///
    /// Resemblyzer marks windows with webrtcvad (mode 3), which is not available here; this uses
    /// an energy detector instead: a window is voice when its RMS level is above −60 dBFS and
    /// within 40 dB of the loudest 5 % of windows. It does not tell speech from loud noise.
    public static func trimLongSilences(_ audio: [Float]) -> [Float] {
        let window = 30 * sampleRate / 1000
        let count = audio.count / window
        guard count > 0 else { return [] }
        let levels: [Double] = (0..<count).map { w in
            var sum: Double = 0
            for i in (w * window)..<((w + 1) * window) { sum += Double(audio[i]) * Double(audio[i]) }
            return 10 * log10(max(sum / Double(window), 1e-20))
        }
        let loud = levels.sorted()[min(count - 1, (count * 95) / 100)]
        let threshold = max(-60, loud - 40)
        let voiced = levels.map { $0 > threshold }
        // Moving average over 8 windows (3 before, 4 after), rounded half to even: > 4 of 8.
        let width = 8, before = (width - 1) / 2
        let smoothed: [Bool] = (0..<count).map { i in
            var n = 0
            for j in (i - before)...(i + width - 1 - before) where j >= 0 && j < count && voiced[j] { n += 1 }
            return 2 * n > width
        }
        // Dilation with a structuring element of 7 windows (vad_max_silence_length 6, plus one).
        let reach = 3
        var keep = [Bool](repeating: false, count: count)
        for i in 0..<count where smoothed[i] {
            for j in max(0, i - reach)...min(count - 1, i + reach) { keep[j] = true }
        }
        var result: [Float] = []
        result.reserveCapacity(count * window)
        for w in 0..<count where keep[w] {
            result.append(contentsOf: audio[(w * window)..<((w + 1) * window)])
        }
        return result
    }
}
