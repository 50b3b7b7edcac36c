import Foundation
import Hummingbird

/// Response headers that carry what the web page shows, so that speech bodies stay pure audio.
extension HTTPFields.Element.Name {
    /// The voice that spoke (after OpenAI voice names map to the default voice).
    static let voxVoice = Self("X-Vox-Voice")!
    /// Synthesis wall time ÷ audio duration (`stream: false` responses).
    static let voxRTF = Self("X-Vox-RTF")!
    /// `hit`, `miss` or `none` (no conditioning for this voice).
    static let voxCache = Self("X-Vox-Cache")!
    /// `warm` when the voice's model was already loaded, `cold` when this request loaded it.
    static let voxModel = Self("X-Vox-Model")!
    /// One line describing the execution plan.
    static let voxPlan = Self("X-Vox-Plan")!
    /// Seconds from accepting the request to its first audio (streaming responses).
    static let voxTimeToFirstAudio = Self("X-Vox-Time-To-First-Audio")!
    /// Seconds spent synthesizing (`stream: false` responses).
    static let voxSynthesisTime = Self("X-Vox-Synthesis-Time")!
    /// Seconds of audio in the body (`stream: false` responses).
    static let voxAudioDuration = Self("X-Vox-Audio-Duration")!
    /// Sample rate of the body's audio.
    static let voxSampleRate = Self("X-Vox-Sample-Rate")!
    /// Seconds the request waited for a synthesis slot.
    static let voxQueueTime = Self("X-Vox-Queue-Time")!
    /// Request fields that were accepted but had no effect (`instructions`: no engine here takes them).
    static let voxIgnored = Self("X-Vox-Ignored")!
}

extension String {
    /// Visible ASCII only, so that a value is always a valid header field.
    var headerSafe: String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0.value >= 32 && $0.value < 127 ? $0 : "?" }).prefix(300))
    }
}

extension ByteBuffer {
    /// The readable bytes as `Data`.
    var data: Data { Data(readableBytesView) }
}
