import Foundation
import VoxAudio
import VoxCore

extension ChatterboxEngine {
    /// The reference as the speech encoder wants it, as upstream prepares it: decoded to mono, at
    /// 24 kHz, longer than the minimum (5 s), not silent, loudness-normalised to −27 LUFS for Turbo
    /// (the original model is not normalised), whole up to the `referenceMaxDuration` guard (60 s):
    /// the graph takes its own crops, as upstream's `prepare_conditionals` does.
    /// Every refusal is a `VoxError` of kind `.invalidAudio` naming the recording.
    func prepareReference(_ reference: VoiceReference) throws -> AudioBuffer {
        let decoded = try AudioDecoder().decode(reference)
        return try Self.prepareReference(decoded, label: reference.label, options: options, flavor: layout.flavor)
    }

    /// The same rules for audio already decoded (the server checks an upload with them).
    public static func prepareReference(
        _ decoded: AudioBuffer, label: String, options: ChatterboxOptions, flavor: ChatterboxModelLayout.Flavor = .turbo
    ) throws -> AudioBuffer {
        guard decoded.isFinite else {
            throw VoxError.invalidAudio("The reference \(label) holds damaged (non-finite) samples; record or export it again.")
        }
        guard decoded.duration > options.referenceMinDuration else {
            throw VoxError.invalidAudio(
                "The reference \(label) is \(String(format: "%.1f", decoded.duration)) s long; Chatterbox needs more than \(String(format: "%g", options.referenceMinDuration)) s of speech (10–15 s is best).")
        }
        guard !decoded.isSilent() else {
            throw VoxError.invalidAudio("The reference \(label) is silent; give a recording of the voice to clone.")
        }
        let resampled = try Resampler.resample(decoded, to: sampleRate)
        var audio = resampled
        if let lufs = options.referenceLUFS(for: flavor) { audio = try resampled.loudnessNormalized(toLUFS: lufs) }
        let limit = Int(options.referenceMaxDuration * Double(sampleRate))
        if audio.samples.count > limit { audio.samples.removeSubrange(limit...) }
        guard audio.isFinite, !audio.isSilent() else {
            throw VoxError.invalidAudio("The reference \(label) has no measurable speech in its first \(Int(options.referenceMaxDuration)) s; give a recording of the voice to clone.")
        }
        return audio
    }
}
