import Foundation
import Logging
import VoxCore
import VoxEngines

/// A voice a request can name, resolved once into what speaks it.
public enum Voice: Sendable, Equatable {
    /// An installed Piper model (a whole voice: nothing to condition).
    case piper(PiperVoice, source: VoiceSource)
    /// A reference recording in the voice library, spoken by a cloning engine.
    case cloned(LibraryVoice)

    public var name: String {
        switch self {
        case .piper(let voice, _): voice.name
        case .cloned(let voice): voice.name
        }
    }

    /// The engine that speaks it ("piper", "chatterbox"): the names a request's `model` may give.
    public var engine: String {
        switch self {
        case .piper: "piper"
        case .cloned: ChatterboxEngine.engineID
        }
    }
}

/// Every voice this installation has: the Piper voices in the voice folders and the reference
/// recordings of the ``VoiceLibrary``. A requested name is resolved here, once, into a typed
/// ``Voice``; this is the one place that answers "unknown voice".
///
/// Both lists are kept in memory and read again only when they may have changed: the library's
/// after an add or remove made here, and either one when its folder or index file was modified
/// since (another process, such as `voxserve voices add`, or a Piper voice dropped into the
/// folder). A request costs a few `stat` calls, not a directory scan and a config parse per voice.
public actor VoiceRegistry {
    public static let defaultVoice = VoiceCatalog.defaultVoice

    /// OpenAI's built-in voice names.
    public static let openAIVoiceNames = ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"]

    /// The default alias table: each of OpenAI's voice names stands for the default voice, so a
    /// client that sends one (an OpenAI SDK's "alloy") is answered, unless a voice of that very
    /// name is installed. `--voice-alias` and `VOXSERVE_VOICE_ALIASES` change entries.
    public static let openAIAliases: [String: String] = Dictionary(uniqueKeysWithValues: openAIVoiceNames.map { ($0, defaultVoice) })

    /// Parses `NAME=VOICE` entries (the command line's and `VOXSERVE_VOICE_ALIASES`'s, comma
    /// separated there) into lowercase alias names and the voices they stand for.
    public static func parseAliases(_ entries: [String]) throws -> [String: String] {
        var table: [String: String] = [:]
        for entry in entries.flatMap({ $0.split(separator: ",") }) {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, VoiceName.isValid(parts[0]), VoiceName.isValid(parts[1]) else {
                throw VoxError.invalidInput(
                    "'\(entry.prefix(80))' is not a voice alias: write NAME=VOICE, for example nova=en_US-joe-medium (names of 1–64 characters A–Z a–z 0–9 _ . -).")
            }
            table[parts[0].lowercased()] = parts[1]
        }
        return table
    }

    public nonisolated let catalog: VoiceCatalog
    public nonisolated let library: VoiceLibrary
    /// Names (lowercase) that stand for another voice when no voice has them.
    public nonisolated let aliases: [String: String]
    /// Each list with the modification times it was read at; nil until read, or after a change made here.
    private var piper: (stamp: [Date?], voices: [(voice: PiperVoice, source: VoiceSource)])?
    private var cloned: (stamp: Date?, voices: [String: LibraryVoice])?

    public init(catalog: VoiceCatalog, library: VoiceLibrary, aliases: [String: String] = VoiceRegistry.openAIAliases) {
        self.catalog = catalog
        self.library = library
        self.aliases = aliases
    }

    /// The registry over `configuration`'s folders, with its alias table.
    public init(configuration: RuntimeConfiguration, logger: Logger = Logger(label: "voxserve.voices")) {
        self.init(
            catalog: VoiceCatalog(paths: configuration.paths), library: VoiceLibrary(paths: configuration.paths, logger: logger),
            aliases: configuration.voiceAliases)
    }

    public init(paths: VoxPaths, logger: Logger = Logger(label: "voxserve.voices")) {
        self.init(catalog: VoiceCatalog(paths: paths), library: VoiceLibrary(paths: paths, logger: logger))
    }

    // MARK: Resolving

    /// The voice called `name` (nil or empty: the default voice). Piper voices take precedence over
    /// library voices of the same name, and both over an alias. Throws `.invalidInput` for a name
    /// that breaks the naming rule and `.unknownVoice`, listing the known names, for one nobody has.
    public func resolve(_ name: String?) async throws -> Voice {
        let requested = (name?.isEmpty ?? true) ? Self.defaultVoice : name!
        try VoiceName.validate(requested)
        if let found = try await piperVoices().first(where: { $0.voice.name == requested }) {
            return .piper(found.voice, source: found.source)
        }
        if let voice = try await clonedVoices()[requested] {
            return .cloned(voice)
        }
        if let target = aliases[requested.lowercased()], target != requested {
            return try await resolve(target)
        }
        throw VoxError.unknownVoice(requested, known: try await names())
    }

    /// For the command line, where the user owns the file system: a voice name, or the path of a
    /// Piper `.onnx` file.
    public func resolve(nameOrPath: String?) async throws -> Voice {
        guard let value = nameOrPath, value.contains("/") || value.hasSuffix(".onnx") else {
            return try await resolve(nameOrPath)
        }
        let url = URL(fileURLWithPath: value)
        guard FileManager.default.fileExists(atPath: url.path) else { throw VoxError.modelNotFound(url.path) }
        return .piper(try PiperVoice.load(modelURL: url), source: .path)
    }

    /// Every voice name a request may use, Piper voices first.
    public func names() async throws -> [String] {
        let piper = try await piperVoices().map(\.voice.name)
        let taken = Set(piper)
        return piper + (try await clonedVoices()).keys.sorted().filter { !taken.contains($0) }
    }

    /// The installed Piper voices, user voices first.
    public func piperVoices() async throws -> [(voice: PiperVoice, source: VoiceSource)] {
        let stamp = catalog.directories.map { Self.modificationDate($0.url) }
        if let piper, piper.stamp == stamp { return piper.voices }
        let catalog = self.catalog
        let voices = try await offload { catalog.voices() }  // reads each voice's config: off the cooperative pool
        piper = (stamp, voices)
        return voices
    }

    /// The library's voices by name.
    public func clonedVoices() async throws -> [String: LibraryVoice] {
        let stamp = Self.modificationDate(library.indexURL)
        if let cloned, cloned.stamp == stamp { return cloned.voices }
        let voices = Dictionary(uniqueKeysWithValues: try await library.list().map { ($0.name, $0) })
        cloned = (stamp, voices)
        return voices
    }

    // MARK: Changes

    /// Stores `data` as library voice `name`. Refused when an installed Piper voice has that name.
    @discardableResult
    public func add(name: String, data: Data, originalFileName: String?, replacing: Bool) async throws -> LibraryVoice {
        try VoiceName.validate(name)
        if try await piperVoices().contains(where: { $0.voice.name == name }) {
            throw VoxError(.conflict, "'\(name)' is an installed model voice; choose another name for the upload.")
        }
        if !replacing, try await clonedVoices()[name] != nil {
            throw VoxError(.conflict, "A voice named '\(name)' already exists; delete it first, choose another name, or send replace=true.")
        }
        let entry = try await library.add(name: name, data: data, originalFileName: originalFileName, replacing: replacing)
        cloned = nil
        return entry
    }

    /// Removes library voice `name`. Installed Piper voices are files the user manages, not removable here.
    @discardableResult
    public func remove(name: String) async throws -> LibraryVoice {
        try VoiceName.validate(name)
        if try await piperVoices().contains(where: { $0.voice.name == name }) {
            throw VoxError(.conflict, "'\(name)' is an installed model voice; only uploaded voices can be deleted.")
        }
        guard try await clonedVoices()[name] != nil else {
            throw VoxError.unknownVoice(name, known: try await names())
        }
        defer { cloned = nil }
        return try await library.remove(name: name)
    }

    /// The stored recording of a library voice, checked against its hash.
    public func reference(of voice: LibraryVoice) async throws -> VoiceReference {
        try await library.reference(named: voice.name)
    }

    private static func modificationDate(_ url: URL) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
    }
}
