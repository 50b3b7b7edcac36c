import Foundation
import VoxCore

/// One voice a user can ask for by name.
public struct VoiceEntry: Sendable, Equatable, Codable {
    public var name: String
    public var engine: String
    public var modelPath: String
    public var sampleRate: Int
    public var speakers: Int
    public var language: String?
    public var source: VoiceSource
}

/// Finds Piper voices in the user's voice folder and the setup's model folder. Names come from
/// what is on disk; a requested name is matched against that list (by `VoxRuntime.VoiceRegistry`)
/// and never turned into a path.
public struct VoiceCatalog: Sendable {
    public static let defaultVoice = "en_US-joe-medium"

    public var directories: [(url: URL, source: VoiceSource)]

    public init(directories: [(url: URL, source: VoiceSource)]) {
        self.directories = directories
    }

    public init(paths: VoxPaths) {
        var dirs: [(URL, VoiceSource)] = [(paths.voicesDirectory, .user)]
        if let setup = paths.setupModelsDirectory { dirs.append((setup, .setup)) }
        self.init(directories: dirs)
    }

    /// Every loadable Piper voice, user voices first; a later voice with a name already seen is hidden.
    public func list() -> [VoiceEntry] {
        voices().map { Self.entry($0.voice, source: $0.source) }
    }

    /// Every loadable Piper voice with its parsed config, in `list()`'s order.
    public func voices() -> [(voice: PiperVoice, source: VoiceSource)] {
        var seen = Set<String>()
        var result: [(PiperVoice, VoiceSource)] = []
        for (dir, source) in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for file in files.sorted() where file.hasSuffix(".onnx") {
                guard let voice = try? PiperVoice.load(modelURL: dir.appendingPathComponent(file)) else { continue }
                guard seen.insert(voice.name).inserted else { continue }
                result.append((voice, source))
            }
        }
        return result
    }

    public static func entry(_ voice: PiperVoice, source: VoiceSource) -> VoiceEntry {
        VoiceEntry(
            name: voice.name, engine: "piper", modelPath: voice.modelURL.path, sampleRate: voice.sampleRate,
            speakers: voice.numSpeakers, language: voice.language, source: source)
    }
}
