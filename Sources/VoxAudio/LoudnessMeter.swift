import Foundation
import VoxCore

/// Integrated loudness per ITU-R BS.1770-4, computed as pyloudnorm's `Meter` does (which is what
/// Chatterbox uses): K-weighting (a +4 dB high shelf near 1.5 kHz, then a 38 Hz high pass)
/// designed for the buffer's own sample rate, mean square over 400 ms blocks overlapping by 75 %,
/// an absolute gate at -70 LUFS and a relative gate 10 LU below the absolutely gated loudness.
public struct LoudnessMeter: Sendable {
    /// Gating block length in seconds (BS.1770: 0.4).
    public var blockDuration: Double

    public init(blockDuration: Double = 0.4) {
        self.blockDuration = blockDuration
    }

    /// The two K-weighting stages for `sampleRate`, in the order they are applied.
    static func kWeighting(sampleRate: Int) -> [Biquad] {
        let rate = Double(sampleRate)
        return [
            .highShelf(gainDB: 4.0, q: 1 / 2.0.squareRoot(), frequency: 1500.0, sampleRate: rate),
            .highPass(q: 0.5, frequency: 38.0, sampleRate: rate),
        ]
    }

    /// Integrated loudness of a mono buffer in LUFS; `-infinity` when no block passes the gates
    /// (silence). Throws `.invalidAudio` for audio shorter than one block.
    public func integratedLoudness(of buffer: AudioBuffer) throws -> Double {
        let rate = Double(buffer.sampleRate)
        guard blockDuration > 0, buffer.sampleRate > 0, Double(buffer.samples.count) >= blockDuration * rate else {
            throw VoxError.invalidAudio(
                "Cannot measure loudness of \(String(format: "%.3f", buffer.duration)) s of audio: at least one \(blockDuration) s block is needed."
            )
        }
        var weighted = buffer.samples.map(Double.init)
        for stage in Self.kWeighting(sampleRate: buffer.sampleRate) {
            weighted = stage.apply(weighted)
        }

        // Block boundaries exactly as pyloudnorm computes them (including its rounding).
        let overlap = 0.75
        let step = 1.0 - overlap
        let duration = Double(weighted.count) / rate
        let blockCount = Int(((duration - blockDuration) / (blockDuration * step)).rounded(.toNearestOrEven)) + 1
        var squares = [Double](repeating: 0, count: weighted.count + 1)
        for i in weighted.indices { squares[i + 1] = squares[i] + weighted[i] * weighted[i] }
        let norm = 1.0 / (blockDuration * rate)
        let blockPower: [Double] = (0..<blockCount).map { j in
            let lower = min(weighted.count, Int(blockDuration * (Double(j) * step) * rate))
            let upper = min(weighted.count, Int(blockDuration * (Double(j) * step + 1) * rate))
            return norm * max(0, squares[upper] - squares[lower])
        }
        let blockLoudness = blockPower.map(Self.loudness)

        let absoluteGate = -70.0
        let aboveAbsolute = blockPower.indices.filter { blockLoudness[$0] >= absoluteGate }
        guard !aboveAbsolute.isEmpty else { return -.infinity }
        let relativeGate = Self.loudness(Self.mean(aboveAbsolute.map { blockPower[$0] })) - 10
        let gated = blockPower.indices.filter { blockLoudness[$0] > relativeGate && blockLoudness[$0] > absoluteGate }
        guard !gated.isEmpty else { return -.infinity }
        return Self.loudness(Self.mean(gated.map { blockPower[$0] }))
    }

    /// `buffer` scaled so that it measures `targetLUFS` (Chatterbox uses -27). Silence, which has no
    /// loudness, comes back unchanged. Like pyloudnorm, it does not clip: a large gain can push peaks
    /// past 1. Throws `.invalidAudio` for audio shorter than one block.
    public func normalize(_ buffer: AudioBuffer, toLUFS targetLUFS: Double) throws -> AudioBuffer {
        let loudness = try integratedLoudness(of: buffer)
        let gain = pow(10, (targetLUFS - loudness) / 20)
        guard gain.isFinite, gain > 0 else { return buffer }
        let g = Float(gain)
        return AudioBuffer(samples: buffer.samples.map { $0 * g }, sampleRate: buffer.sampleRate)
    }

    /// BS.1770 loudness of a mean square (mono, channel weight 1).
    private static func loudness(_ meanSquare: Double) -> Double {
        -0.691 + 10 * log10(meanSquare)
    }

    private static func mean(_ values: [Double]) -> Double {
        values.reduce(0, +) / Double(values.count)
    }
}
