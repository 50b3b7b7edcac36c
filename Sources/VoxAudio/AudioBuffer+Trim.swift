import Foundation
import VoxCore

extension AudioBuffer {
    /// The sample range that is not silence, as `librosa.effects.trim` finds it: frames of
    /// `frameLength` samples every `hopLength` (centred, zero padded) whose RMS is within `topDB`
    /// of the loudest frame's. The range runs from the first such frame's start to the last one's
    /// end (at most the buffer's end). Levels are relative, so all-zero audio is kept whole, as in librosa.
    public func nonSilentRange(topDB: Double = 20, frameLength: Int = 2048, hopLength: Int = 512) -> Range<Int> {
        precondition(frameLength > 0 && hopLength > 0, "frame and hop lengths must be positive")
        guard !samples.isEmpty else { return 0..<0 }
        let pad = frameLength / 2
        let frameCount = 1 + (samples.count + 2 * pad - frameLength) / hopLength
        var squares = [Double](repeating: 0, count: samples.count + 1)
        for i in samples.indices { squares[i + 1] = squares[i] + Double(samples[i]) * Double(samples[i]) }
        // RMS of each frame; the padding contributes zeros.
        let rms: [Double] = (0..<frameCount).map { f in
            let start = f * hopLength - pad
            let lower = Swift.min(Swift.max(start, 0), samples.count)
            let upper = Swift.min(Swift.max(start + frameLength, 0), samples.count)
            return (Swift.max(0, squares[upper] - squares[lower]) / Double(frameLength)).squareRoot()
        }
        // librosa: amplitude_to_db(rms, ref=np.max), amplitudes floored at amin = 1e-5.
        let amin = 1e-5
        let reference = Swift.max(amin, rms.max() ?? 0)
        let loud = rms.indices.filter { 20 * log10(Swift.max(amin, rms[$0]) / reference) > -topDB }
        guard let first = loud.first, let last = loud.last else { return 0..<0 }  // topDB <= 0, or NaN samples
        return (first * hopLength)..<Swift.min(samples.count, (last + 1) * hopLength)
    }

    /// `self` without its leading and trailing silence (see `nonSilentRange`).
    public func trimmingSilence(topDB: Double = 20, frameLength: Int = 2048, hopLength: Int = 512) -> AudioBuffer {
        let range = nonSilentRange(topDB: topDB, frameLength: frameLength, hopLength: hopLength)
        return AudioBuffer(samples: Array(samples[range]), sampleRate: sampleRate)
    }
}
