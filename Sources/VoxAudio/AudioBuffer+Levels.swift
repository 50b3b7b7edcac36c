import Foundation
import VoxCore

extension AudioBuffer {
    /// `self` scaled so that its peak is `target`, as piper does before writing 16-bit audio:
    /// the gain is `target / max(floor, peak)`, so near-silence is not blown up by more than
    /// `target / floor`. With `clipped`, every sample is then clamped to ±`target` as piper clamps
    /// to the 16-bit range (which also turns a NaN sample into -`target`). Silence, and audio with
    /// an infinite sample, come back unchanged.
    public func peakNormalized(to target: Float = 1, floor: Float = 0.01, clipped: Bool = false) -> AudioBuffer {
        let peak = self.peak
        guard peak.isFinite else { return self }
        // All zeros (NaN samples aside, which `peak` skips): any finite gain leaves them as they are.
        let gain = peak > 0 ? target / Swift.max(floor, peak) : 1
        let scaled = clipped ? samples.map { Swift.min(target, Swift.max(-target, $0 * gain)) } : samples.map { $0 * gain }
        return AudioBuffer(samples: scaled, sampleRate: sampleRate)
    }

    /// Root-mean-square level in dB relative to full scale, `10·log10(mean(x²))` as Resemblyzer
    /// computes it (a full-scale square wave is 0 dBFS, a full-scale sine about -3 dBFS);
    /// `-infinity` for silence.
    public var rmsDBFS: Double {
        guard !samples.isEmpty else { return -.infinity }
        var sum = 0.0
        for x in samples { sum += Double(x) * Double(x) }
        return 10 * log10(sum / Double(samples.count))
    }

    /// Resemblyzer's `normalize_volume(wav, targetDBFS, increase_only=...)`: scales to
    /// `targetDBFS` (rms-based), but with `increaseOnly` leaves louder audio as it is.
    /// Silence comes back unchanged. The result is not clipped.
    public func volumeNormalized(toDBFS targetDBFS: Double = -30, increaseOnly: Bool = true) -> AudioBuffer {
        let change = targetDBFS - rmsDBFS
        guard change.isFinite, !(increaseOnly && change < 0) else { return self }
        let gain = Float(pow(10, change / 20))
        return AudioBuffer(samples: samples.map { $0 * gain }, sampleRate: sampleRate)
    }

    /// Scaled to `targetLUFS` integrated loudness (BS.1770, see `LoudnessMeter`).
    public func loudnessNormalized(toLUFS targetLUFS: Double) throws -> AudioBuffer {
        try LoudnessMeter().normalize(self, toLUFS: targetLUFS)
    }
}
