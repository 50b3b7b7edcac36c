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
    /// "setup" for voices installed by `make setup`, "user" for `$VOXSERVE_HOME/voices`, "path" for an explicit file.
    public var source: String
}

/// Finds Piper voices in the user's voice folder and the setup's model folder.
/// Names come from what is on disk: a requested name is matched against that list and never
/// turned into a path.
public struct VoiceCatalog: Sendable {
    public static let defaultVoice = "en_US-joe-medium"

    public var directories: [(url: URL, source: String)]

    public init(directories: [(url: URL, source: String)]) {
        self.directories = directories
    }

    public init(paths: VoxPaths) {
        var dirs: [(URL, String)] = [(paths.voicesDirectory, "user")]
        if let setup = paths.setupModelsDirectory { dirs.append((setup, "setup")) }
        self.init(directories: dirs)
    }

    /// Every loadable Piper voice, user voices first; a later voice with a name already seen is hidden.
    public func list() -> [VoiceEntry] {
        var seen = Set<String>()
        var result: [VoiceEntry] = []
        for (dir, source) in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for file in files.sorted() where file.hasSuffix(".onnx") {
                guard let voice = try? PiperVoice.load(modelURL: dir.appendingPathComponent(file)) else { continue }
                guard seen.insert(voice.name).inserted else { continue }
                result.append(Self.entry(voice, source: source))
            }
        }
        return result
    }

    /// A voice by name, or by the path of a `.onnx` file (for the command line, where the user
    /// owns the file system). Servers use `resolve(name:)`.
    public func resolve(_ nameOrPath: String?) throws -> PiperVoice {
        let requested = (nameOrPath?.isEmpty ?? true) ? Self.defaultVoice : nameOrPath!
        if requested.contains("/") || requested.hasSuffix(".onnx") {
            let url = URL(fileURLWithPath: requested)
            guard FileManager.default.fileExists(atPath: url.path) else { throw VoxError.modelNotFound(url.path) }
            return try PiperVoice.load(modelURL: url)
        }
        return try resolve(name: requested)
    }

    /// A voice by the name it is listed under; nil means the default voice. Never reads a path built from `name`.
    public func resolve(name: String?) throws -> PiperVoice {
        let requested = (name?.isEmpty ?? true) ? Self.defaultVoice : name!
        let voices = list()
        guard let entry = voices.first(where: { $0.name == requested }) else {
            throw VoxError.unknownVoice(requested, known: voices.map(\.name))
        }
        return try PiperVoice.load(modelURL: URL(fileURLWithPath: entry.modelPath))
    }

    static func entry(_ voice: PiperVoice, source: String) -> VoiceEntry {
        VoiceEntry(
            name: voice.name, engine: "piper", modelPath: voice.modelURL.path, sampleRate: voice.sampleRate,
            speakers: voice.numSpeakers, language: voice.language, source: source)
    }
}
