import VoxEngines
import VoxRuntime

/// The `info` event's data: one text-to-speech program holding every voice that can speak now
/// (Piper voices, and cloned voices when the cloning engine is installed), in the shape of the
/// `wyoming` library's `Info` / `TtsProgram` / `TtsVoice`. Home Assistant lists these voices.
struct WyomingInfo: Encodable, Equatable {
    struct Attribution: Encodable, Equatable {
        var name: String
        var url: String
    }

    struct Speaker: Encodable, Equatable {
        var name: String
    }

    struct Voice: Encodable, Equatable {
        var name: String
        var attribution: Attribution
        var installed = true
        var description: String?
        var version: String?
        var languages: [String]
        var speakers: [Speaker]?
    }

    struct Program: Encodable, Equatable {
        var name = "voxserve"
        var attribution = Attribution(name: "VoxServe", url: "")
        var installed = true
        var description = "VoxServe text to speech: Piper voices and voices cloned from a recording"
        var version: String?
        var voices: [Voice]
        var supportsSynthesizeStreaming = true

        enum CodingKeys: String, CodingKey {
            case name, attribution, installed, description, version, voices
            case supportsSynthesizeStreaming = "supports_synthesize_streaming"
        }
    }

    var tts: [Program]
    // The other services a Wyoming peer may offer; VoxServe offers none of them.
    var asr: [Program] = []
    var handle: [Program] = []
    var intent: [Program] = []
    var wake: [Program] = []
    var mic: [Program] = []
    var snd: [Program] = []

    static let piper = Attribution(name: "rhasspy", url: "https://github.com/rhasspy/piper")
    static let chatterbox = Attribution(name: "Resemble AI", url: "https://github.com/resemble-ai/chatterbox")

    /// `webPage` is where the server's own page is (the program's attribution link).
    init(voices: [VoiceDescription], webPage: String = "") {
        let listed = voices.filter(\.available).map { voice in
            Voice(
                name: voice.id, attribution: voice.engine == ChatterboxEngine.engineID ? Self.chatterbox : Self.piper,
                description: voice.description ?? voice.id, version: voice.version,
                languages: voice.language.map { [$0] } ?? [], speakers: voice.speakers?.map(Speaker.init))
        }
        var program = Program(voices: listed)
        program.attribution.url = webPage
        tts = [program]
    }
}
