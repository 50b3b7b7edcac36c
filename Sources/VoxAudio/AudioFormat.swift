/// The containers and codecs VoxServe writes, named as the OpenAI speech API names them
/// (`response_format`).
public enum AudioFormat: String, Sendable, CaseIterable, Equatable {
    /// RIFF WAVE, 16-bit PCM by default (`AudioEncoder.wavSampleFormat` picks float32).
    case wav
    /// FLAC, 16-bit.
    case flac
    /// Ogg Vorbis.
    case ogg
    /// Ogg Opus (8, 12, 16, 24 or 48 kHz; other rates are resampled on the way in).
    case opus
    /// MPEG-1/2 Layer III, when this build of libsndfile can write it (`AudioEncoder.canEncode(.mp3)`).
    case mp3
    /// Headerless 16-bit little-endian mono PCM.
    case pcm
    /// AAC-LC in ADTS frames (FFmpeg's native encoder), as OpenAI's `aac`.
    case aac

    /// Looks a format up by its API name ("wav", "flac", "ogg", "opus", "mp3", "pcm", "aac"), ignoring case.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }

    /// Looks a format up by a file extension, with or without the dot, ignoring case.
    public init?(fileExtension: String) {
        var ext = fileExtension.lowercased()
        if ext.hasPrefix(".") { ext.removeFirst() }
        switch ext {
        case "wav", "wave": self = .wav
        case "flac": self = .flac
        case "ogg", "oga": self = .ogg
        case "opus": self = .opus
        case "mp3": self = .mp3
        case "pcm", "raw": self = .pcm
        case "aac", "adts": self = .aac
        default: return nil
        }
    }

    /// The API name, which is also the usual file extension.
    public var name: String { rawValue }

    public var fileExtension: String { rawValue }

    /// The `Content-Type` a server sends with this format.
    public var mimeType: String {
        switch self {
        case .wav: "audio/wav"
        case .flac: "audio/flac"
        case .ogg: "audio/ogg"
        case .opus: "audio/opus"
        case .mp3: "audio/mpeg"
        case .pcm: "audio/pcm"
        case .aac: "audio/aac"
        }
    }
}
