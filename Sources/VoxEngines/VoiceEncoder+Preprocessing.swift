import Foundation

extension VoiceEncoder {
    /// Applies the configuration's preprocessing (`VoiceEncoderConfiguration.Preprocessing`) to
    /// 16 kHz audio. Separate from `embed(_:)` so that callers can embed audio exactly as given.
    public func preprocess(_ audio16k: [Float]) -> [Float] {
        switch configuration.preprocessing {
        case .none:
            return audio16k
        case .resemblyzer(let target):
            return Self.trimLongSilences(Self.normalizeVolume(audio16k, targetDBFS: target, increaseOnly: true))
        case .trimEdges(let topDB):
            return Self.trimEdges(audio16k, topDB: topDB)
        }
    }

    /// Scales the audio so that its RMS level is `targetDBFS` (full scale = 1.0). With
    /// `increaseOnly`, audio already louder than the target is returned unchanged. Silent audio
    /// is returned unchanged.
    public static func normalizeVolume(_ audio: [Float], targetDBFS: Float, increaseOnly: Bool = false) -> [Float] {
        guard !audio.isEmpty else { return audio }
        let meanSquare = audio.reduce(Double(0)) { $0 + Double($1) * Double($1) } / Double(audio.count)
        guard meanSquare > 0 else { return audio }
        let change = Double(targetDBFS) - 10 * log10(meanSquare)
        if increaseOnly && change < 0 { return audio }
        let gain = Float(pow(10, change / 20))
        return audio.map { $0 * gain }
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

    /// Cuts leading and trailing audio whose level is more than `topDB` below the loudest frame,
    /// as `librosa.effects.trim(top_db:)` does (RMS of 2048-sample frames every 512 samples,
    /// centred with zero padding). Returns no samples when nothing is above the threshold.
    public static func trimEdges(_ audio: [Float], topDB: Float, frameLength: Int = 2048, hopLength: Int = 512) -> [Float] {
        guard !audio.isEmpty else { return audio }
        let frames = 1 + audio.count / hopLength
        let half = frameLength / 2
        // Running sum of squares over the zero-padded signal.
        var prefix = [Double](repeating: 0, count: audio.count + 1)
        for i in 0..<audio.count { prefix[i + 1] = prefix[i] + Double(audio[i]) * Double(audio[i]) }
        let rms: [Double] = (0..<frames).map { t in
            let lo = max(0, t * hopLength - half), hi = min(audio.count, t * hopLength - half + frameLength)
            return hi > lo ? (max(0, prefix[hi] - prefix[lo]) / Double(frameLength)).squareRoot() : 0
        }
        let amin = 1e-5
        let reference = max(amin, rms.max() ?? 0)
        let loud = rms.map { 20 * log10(max(amin, $0) / reference) > -Double(topDB) }
        guard let first = loud.firstIndex(of: true), let last = loud.lastIndex(of: true) else { return [] }
        let start = first * hopLength
        let end = min(audio.count, (last + 1) * hopLength)
        return Array(audio[start..<end])
    }
}
