import Foundation

/// How a `VoiceEncoder` turns 16 kHz audio into partial utterances. The network is the same for
/// Resemblyzer and Chatterbox's `ve`; their front ends differ in the details below.
public struct VoiceEncoderConfiguration: Sendable, Equatable {
    public enum MelScale: Sendable, Equatable {
        /// Slaney's scale (linear below 1 kHz, logarithmic above), librosa's default.
        case slaney
        /// HTK's `2595·log10(1 + f/700)`, torchaudio's default.
        case htk
    }

    public enum MelNormalization: Sendable, Equatable {
        /// Each triangle scaled by `2 / (right − left)` (librosa's `norm="slaney"`).
        case slaney
        /// Triangles of height 1 (torchaudio's `norm=None`).
        case none
    }

    /// How the signal is extended by `n_fft / 2` samples on each side for centred frames.
    public enum Padding: Sendable, Equatable {
        /// Zeros (librosa ≥ 0.10's default `pad_mode="constant"`).
        case zeros
        /// Mirror image without repeating the edge sample (torch.stft's `pad_mode="reflect"`).
        /// Signals of 200 samples or fewer fall back to zeros.
        case reflect
    }

    /// How partials are laid out and how the last one is padded.
    public enum PartialLayout: Sendable, Equatable {
        /// Resemblyzer's `compute_partial_slices`: the waveform is zero-padded to the end of the
        /// last partial before the mel spectrogram is computed.
        case resemblyzer
        /// Chatterbox's `get_num_wins`: the mel spectrogram of the waveform is padded with zero
        /// frames (or trimmed) to the end of the last partial.
        case chatterbox
    }

    /// What `VoiceEncoder.preprocess(_:)` does before embedding.
    public enum Preprocessing: Sendable, Equatable {
        /// Nothing.
        case none
        /// Resemblyzer's `preprocess_wav`: raise the level to `targetDBFS` (never lower it), then
        /// shorten silences longer than about 200 ms. Resemblyzer finds silence with webrtcvad;
        /// VoxServe uses an energy detector instead (see `VoiceEncoder.trimLongSilences`).
        case resemblyzer(targetDBFS: Float)
        /// Chatterbox's `librosa.effects.trim(top_db:)`: cut leading and trailing audio quieter
        /// than `topDB` below the loudest frame.
        case trimEdges(topDB: Float)
    }

    public var melScale: MelScale
    public var melNormalization: MelNormalization
    public var padding: Padding
    public var partialLayout: PartialLayout
    /// Partial utterances per second of audio (1.3 → a partial every 77 frames).
    public var rate: Double
    /// Frames (10 ms each) in one partial utterance.
    public var partialFrames: Int
    /// The last partial is kept only when at least this share of it is covered by the audio.
    public var minCoverage: Double
    public var preprocessing: Preprocessing
    /// Partials run through the network together; bounds memory for long references.
    public var batchSize: Int

    public init(
        melScale: MelScale = .slaney, melNormalization: MelNormalization = .slaney, padding: Padding = .zeros,
        partialLayout: PartialLayout = .resemblyzer, rate: Double = 1.3, partialFrames: Int = 160,
        minCoverage: Double = 0.75, preprocessing: Preprocessing = .resemblyzer(targetDBFS: -30), batchSize: Int = 32
    ) {
        self.melScale = melScale
        self.melNormalization = melNormalization
        self.padding = padding
        self.partialLayout = partialLayout
        self.rate = rate
        self.partialFrames = partialFrames
        self.minCoverage = minCoverage
        self.preprocessing = preprocessing
        self.batchSize = batchSize
    }

    /// Resemblyzer 0.1.4 (`embed_utterance` with its defaults, librosa ≥ 0.10).
    public static let resemblyzer = VoiceEncoderConfiguration()

    /// Chatterbox's `VoiceEncoder.embeds_from_wavs` (`voice_encoder/melspec.py`): librosa's mel
    /// filterbank with its defaults (Slaney scale, Slaney area normalisation, 0–8 kHz, 40 mels),
    /// `librosa.stft(center=True, pad_mode="reflect")`, power 2, no log ("amp" mels); minimum
    /// coverage 0.8, edges trimmed at 20 dB.
    public static let chatterbox = VoiceEncoderConfiguration(
        melScale: .slaney, melNormalization: .slaney, padding: .reflect, partialLayout: .chatterbox,
        minCoverage: 0.8, preprocessing: .trimEdges(topDB: 20)
    )

    /// Frames between the starts of two partials.
    public var frameStep: Int {
        let step = (Double(MelFrontEnd.sampleRate) / rate / Double(MelFrontEnd.hopLength)).rounded(.toNearestOrEven)
        return max(1, min(partialFrames, Int(step)))
    }

    /// Where the partials of `sampleCount` samples start (in frames), how far the waveform is
    /// zero-padded, and how many mel frames the partials read. Always at least one partial.
    func partialPlan(sampleCount n: Int) -> PartialPlan {
        let hop = MelFrontEnd.hopLength
        let step = frameStep
        switch partialLayout {
        case .resemblyzer:
            let frames = (n + 1 + hop - 1) / hop  // ceil((n + 1) / hop)
            var starts = Array(stride(from: 0, to: max(1, frames - partialFrames + step + 1), by: step))
            let coverage = Double(n - starts.last! * hop) / Double(partialFrames * hop)
            if coverage < minCoverage && starts.count > 1 { starts.removeLast() }
            let end = starts.last! + partialFrames
            return PartialPlan(starts: starts, paddedSampleCount: max(n, end * hop), frameCount: end)
        case .chatterbox:
            let frames = 1 + n / hop
            var windows = max(frames - partialFrames + step, 0) / step
            let remainder = max(frames - partialFrames + step, 0) % step
            if windows == 0 || Double(remainder + partialFrames - step) / Double(partialFrames) >= minCoverage {
                windows += 1
            }
            let starts = (0..<windows).map { $0 * step }
            return PartialPlan(starts: starts, paddedSampleCount: n, frameCount: partialFrames + step * (windows - 1))
        }
    }

    struct PartialPlan: Equatable {
        /// First frame of each partial.
        var starts: [Int]
        /// The waveform is zero-padded to this many samples before its mel frames are computed.
        var paddedSampleCount: Int
        /// Mel frames the partials cover; frames past the padded waveform's are zero.
        var frameCount: Int
    }
}
