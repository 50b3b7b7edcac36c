import VoxCore

/// When a plan entry has failed: the pure rules `OptimizedSynthesizer` follows.
public enum FallbackPolicy {
    /// Errors that say the engine (its provider, precision or session) failed, which another entry
    /// may not. Errors about the request itself (bad text, unknown voice, unusable reference audio,
    /// a busy server) would fail on every entry and go straight back to the caller. An error that is
    /// no `VoxError` comes from inside an engine and counts as its failure. Cancellation never does.
    public static func isEngineFailure(_ error: any Error) -> Bool {
        if error is CancellationError { return false }
        guard let vox = error as? VoxError else { return true }
        switch vox.kind {
        case .engineFailure, .invalidModel, .modelNotFound, .unsupported: return true
        case .invalidInput, .unknownVoice, .invalidAudio, .io, .unavailable: return false
        }
    }

    /// Why `audio` cannot be handed out, or nil when it can: NaN or infinite samples (fp16 overflow
    /// is the usual cause), or silence, which a working TTS engine never produces for real text.
    public static func problem(with audio: AudioBuffer) -> String? {
        if !audio.isFinite {
            let bad = audio.samples.lazy.filter { !$0.isFinite }.count
            return "the audio has \(bad) non-finite sample\(bad == 1 ? "" : "s") (NaN or infinity) of \(audio.samples.count)"
        }
        if audio.isSilent() {
            return audio.isEmpty ? "the audio is empty" : "the audio is silent (peak \(audio.peak))"
        }
        return nil
    }

    /// One line for an error, for reports and logs.
    public static func describe(_ error: any Error) -> String {
        if let vox = error as? VoxError {
            return vox.detail.map { "\(vox.message) (\($0))" } ?? vox.message
        }
        return String(describing: error)
    }
}
