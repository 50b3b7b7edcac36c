import Crypto
import Foundation
import Logging
import VoxCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The user's named voice references (`voxserve voices add NAME FILE`, `remove`, `list`).
///
/// Layout under `directory` (by default `$VOXSERVE_HOME/voices`):
/// - `references/<sha256>.<ext>`: each distinct recording once, named by the SHA-256 of its
///   bytes and the extension of its detected format; two names with the same content share one file.
/// - `index.json`: name → sha256, format, size, date added, original file name (``VoiceIndex``).
/// - `.lock`: taken (`flock`) around every change, so the CLI and a running server can both
///   change the library; the index is replaced atomically, so readers never see half of it.
///
/// Names are 1–64 characters of `A–Z a–z 0–9 _ . -`, not starting with `.` and without `..`;
/// a name is only ever a key in the index, never part of a path.
///
/// Adding a name that exists is an error unless `replacing` is true (then the old reference is
/// deleted when no other name uses it); adding the same content under the same name again is
/// accepted and changes nothing.
public actor VoiceLibrary {
    /// Longest accepted voice name.
    public static let maxNameLength = 64
    /// Largest accepted reference recording: 64 MiB (six minutes of 48 kHz stereo 16-bit WAV).
    public static let maxReferenceBytes = 64 * 1024 * 1024

    public nonisolated let directory: URL
    private let logger: Logger

    public init(directory: URL, logger: Logger = Logger(label: "voxserve.voices")) {
        self.directory = directory.standardizedFileURL
        self.logger = logger
    }

    /// The library in `paths.voicesDirectory` (`$VOXSERVE_HOME/voices`).
    public init(paths: VoxPaths, logger: Logger = Logger(label: "voxserve.voices")) {
        self.init(directory: paths.voicesDirectory, logger: logger)
    }

    public nonisolated var referencesDirectory: URL { directory.appendingPathComponent("references") }
    public nonisolated var indexURL: URL { directory.appendingPathComponent("index.json") }
    private nonisolated var lockURL: URL { directory.appendingPathComponent(".lock") }

    /// The stored reference file of `entry`.
    public nonisolated func referenceURL(for entry: LibraryVoice) -> URL {
        referencesDirectory.appendingPathComponent(entry.fileName)
    }

    // MARK: Names

    public static func isValidName(_ name: String) -> Bool {
        let scalars = name.unicodeScalars
        guard (1...maxNameLength).contains(scalars.count) else { return false }
        let allowed = scalars.allSatisfy { scalar in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "_", ".", "-": true
            default: false
            }
        }
        return allowed && !name.hasPrefix(".") && !name.contains("..")
    }

    /// Throws a `VoxError` (invalid input) that says what a voice name may be.
    public static func validateName(_ name: String) throws {
        guard !isValidName(name) else { return }
        let shown = name.debugDescription
        if name.isEmpty {
            throw VoxError.invalidInput("A voice name cannot be empty: use 1–\(maxNameLength) characters of letters, digits, '_', '.' and '-'.")
        }
        if name.unicodeScalars.count > maxNameLength {
            throw VoxError.invalidInput("The voice name \(shown) is \(name.unicodeScalars.count) characters long; the limit is \(maxNameLength).")
        }
        throw VoxError.invalidInput(
            "The voice name \(shown) is not allowed: use letters, digits, '_', '.' and '-' only, not starting with '.' and without '..'."
        )
    }

    // MARK: Changes

    /// Adds the recording in `file` as voice `name`. Only its content and its last path component
    /// (for display) are kept.
    @discardableResult
    public func add(name: String, file: URL, replacing: Bool = false) async throws -> LibraryVoice {
        try Self.validateName(name)
        let data = try await ConditioningFileIO.perform {
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.intValue ?? 0
            guard size <= Self.maxReferenceBytes else {
                throw Self.tooLarge(file.lastPathComponent, size)
            }
            do {
                return try Data(contentsOf: file)
            } catch {
                throw VoxError.io("Cannot read the reference recording \(file.path): \(error.localizedDescription)", path: file.path)
            }
        }
        return try await add(name: name, data: data, originalFileName: file.lastPathComponent, replacing: replacing)
    }

    /// Adds `data` (an encoded WAV, FLAC, OGG, MP3 or AIFF file) as voice `name`.
    @discardableResult
    public func add(name: String, data: Data, originalFileName: String? = nil, replacing: Bool = false) async throws -> LibraryVoice {
        try Self.validateName(name)
        let label = originalFileName ?? name
        guard !data.isEmpty else {
            throw VoxError.invalidAudio("The reference recording \(label) is empty: give a WAV, FLAC, OGG, MP3 or AIFF file of the voice.")
        }
        guard data.count <= Self.maxReferenceBytes else { throw Self.tooLarge(label, data.count) }
        guard let format = VoiceReferenceFormat.detect(data) else {
            throw VoxError.invalidAudio("\(label) is not a WAV, FLAC, OGG, MP3 or AIFF file: give a recording of the voice in one of those formats.")
        }
        let sha256 = ConditioningKey.hex(SHA256.hash(data: data))
        let addedAt = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let record = VoiceIndex.Record(
            sha256: sha256, format: format, byteCount: data.count, addedAt: addedAt,
            originalFileName: originalFileName.map { URL(fileURLWithPath: $0).lastPathComponent }
        )
        let (directory, references, indexURL, lockURL) = (self.directory, referencesDirectory, self.indexURL, self.lockURL)
        let (entry, removedFile) = try await ConditioningFileIO.perform { () throws -> (LibraryVoice, String?) in
            try Self.createDirectory(references)
            return try Self.withLock(lockURL) {
                var index = try VoiceIndex.read(from: indexURL)
                let previous = index.voices[name]
                if let previous, previous.sha256 == sha256 {
                    return (index.entry(named: name)!, nil)
                }
                if previous != nil, !replacing {
                    throw VoxError.invalidInput(
                        "A voice named '\(name)' already exists. Remove it first (`voxserve voices remove \(name)`) or choose another name."
                    )
                }
                let stored = references.appendingPathComponent("\(sha256).\(format.fileExtension)")
                if !Self.fileHolds(stored, sha256: sha256) {
                    try ConditioningFileIO.writeAtomically(data, to: stored)
                }
                index.voices[name] = record
                try index.write(to: indexURL)
                guard let previous, !index.isReferenced(previous.sha256) else { return (index.entry(named: name)!, nil) }
                let old = references.appendingPathComponent("\(previous.sha256).\(previous.format.fileExtension)")
                try? FileManager.default.removeItem(at: old)
                return (index.entry(named: name)!, old.lastPathComponent)
            }
        }
        logger.info(
            "Voice added",
            metadata: ["vox.voice": "\(name)", "vox.voice.sha256": "\(entry.sha256)", "vox.voices.dir": "\(directory.path)"]
        )
        if let removedFile {
            logger.info("Replaced voice's old reference removed", metadata: ["vox.voice": "\(name)", "vox.voice.file": "\(removedFile)"])
        }
        return entry
    }

    /// Removes voice `name`, and its reference file when no other name uses it.
    @discardableResult
    public func remove(name: String) async throws -> LibraryVoice {
        try Self.validateName(name)
        let (references, indexURL, lockURL) = (referencesDirectory, self.indexURL, self.lockURL)
        let entry = try await ConditioningFileIO.perform { () throws -> LibraryVoice in
            guard FileManager.default.fileExists(atPath: indexURL.path) else { throw VoxError.unknownVoice(name) }
            return try Self.withLock(lockURL) {
                var index = try VoiceIndex.read(from: indexURL)
                guard let entry = index.entry(named: name) else {
                    throw VoxError.unknownVoice(name, known: index.voices.keys.sorted())
                }
                index.voices[name] = nil
                try index.write(to: indexURL)
                if !index.isReferenced(entry.sha256) {
                    try? FileManager.default.removeItem(at: references.appendingPathComponent(entry.fileName))
                }
                return entry
            }
        }
        logger.info("Voice removed", metadata: ["vox.voice": "\(name)", "vox.voice.sha256": "\(entry.sha256)"])
        return entry
    }

    // MARK: Queries

    /// Every voice, sorted by name.
    public func list() async throws -> [LibraryVoice] {
        let indexURL = self.indexURL
        return try await ConditioningFileIO.perform { try VoiceIndex.read(from: indexURL).entries }
    }

    /// The entry for `name`, or an unknown-voice error that lists the known names.
    public func entry(named name: String) async throws -> LibraryVoice {
        try Self.validateName(name)
        let indexURL = self.indexURL
        return try await ConditioningFileIO.perform {
            let index = try VoiceIndex.read(from: indexURL)
            guard let entry = index.entry(named: name) else {
                throw VoxError.unknownVoice(name, known: index.voices.keys.sorted())
            }
            return entry
        }
    }

    /// The stored recording of voice `name`, checked against its hash, labelled with the voice's name.
    public func reference(named name: String) async throws -> VoiceReference {
        let entry = try await entry(named: name)
        let url = referenceURL(for: entry)
        return try await ConditioningFileIO.perform {
            guard let data = try? Data(contentsOf: url) else {
                throw VoxError.io(
                    "The recording of voice '\(name)' is missing (\(url.path)). Remove the voice and add it again.", path: url.path
                )
            }
            guard ConditioningKey.hex(SHA256.hash(data: data)) == entry.sha256 else {
                throw VoxError.io(
                    "The recording of voice '\(name)' was changed on disk (\(url.path)). Remove the voice and add it again.",
                    path: url.path
                )
            }
            return VoiceReference(data: data, label: name)
        }
    }

    // MARK: Blocking helpers (run inside ConditioningFileIO.perform)

    private static func tooLarge(_ label: String, _ size: Int) -> VoxError {
        VoxError.invalidAudio(
            "The reference recording \(label) is \(size / (1024 * 1024)) MiB; the limit is \(maxReferenceBytes / (1024 * 1024)) MiB. A 10–15 s clip is enough."
        )
    }

    private static func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw VoxError.io("Cannot create the voice library folder \(url.path): \(error.localizedDescription)", path: url.path)
        }
    }

    /// True when `url` exists and its bytes hash to `sha256` (a damaged copy is rewritten).
    private static func fileHolds(_ url: URL, sha256: String) -> Bool {
        guard let data = try? Data(contentsOf: url) else { return false }
        return ConditioningKey.hex(SHA256.hash(data: data)) == sha256
    }

    /// Runs `body` holding an exclusive `flock` on `lockURL`, which other processes take too.
    private static func withLock<T>(_ lockURL: URL, _ body: () throws -> T) throws -> T {
        let descriptor = open(lockURL.path, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else {
            throw VoxError.io("Cannot open the voice library lock \(lockURL.path): \(String(cString: strerror(errno))).", path: lockURL.path)
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw VoxError.io("Cannot lock the voice library \(lockURL.path): \(String(cString: strerror(errno))).", path: lockURL.path)
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}
