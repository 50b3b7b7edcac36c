import Foundation
import Logging
import VoxCore
import VoxOptimizer

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
/// - `index.json`: name → sha256, format, size, date added, original file name (``VoiceIndex``),
///   and `index.json.bak`, the same written just before it. An index that cannot be read (a disk
///   error, a hand edit, a writer other than VoxServe) is recovered from the backup, else rebuilt
///   from the stored recordings (as `recovered-<hash>` names); the unreadable one is kept aside.
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

    public static func isValidName(_ name: String) -> Bool { VoiceName.isValid(name) }
    public static func validateName(_ name: String) throws { try VoiceName.validate(name) }

    // MARK: Changes

    /// Adds the recording in `file` as voice `name`. Only its content and its last path component
    /// (for display) are kept.
    @discardableResult
    public func add(name: String, file: URL, replacing: Bool = false) async throws -> LibraryVoice {
        try Self.validateName(name)
        let data = try await offload {
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
        let sha256 = ConditioningKey.contentDigest(of: data)
        let addedAt = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let record = VoiceIndex.Record(
            sha256: sha256, format: format, byteCount: data.count, addedAt: addedAt,
            originalFileName: originalFileName.map { URL(fileURLWithPath: $0).lastPathComponent }
        )
        let (directory, references, indexURL, lockURL) = (self.directory, referencesDirectory, self.indexURL, self.lockURL)
        let (entry, removedFile) = try await offload { () throws -> (LibraryVoice, String?) in
            try Self.createDirectory(references)
            return try Self.withLock(lockURL) {
                var (index, recovery) = try VoiceIndex.read(from: indexURL, references: references)
                if recovery != nil { VoiceIndex.setAside(indexURL) }
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
                let wroteRecording = !Self.fileHolds(stored, sha256: sha256)
                if wroteRecording {
                    try AtomicFile.write(data, to: stored)
                }
                index.voices[name] = record
                do {
                    try index.write(to: indexURL)
                } catch {
                    // A recording no index lists would be lost space: it goes with the failed change.
                    if wroteRecording && !index.isReferenced(sha256, excluding: name) { try? FileManager.default.removeItem(at: stored) }
                    throw error
                }
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
        let entry = try await offload { () throws -> LibraryVoice in
            guard FileManager.default.fileExists(atPath: indexURL.path) else { throw VoxError.unknownVoice(name) }
            return try Self.withLock(lockURL) {
                var (index, recovery) = try VoiceIndex.read(from: indexURL, references: references)
                if recovery != nil { VoiceIndex.setAside(indexURL) }
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
        try await index().entries
    }

    /// The index, recovered (and written back, under the lock) when it could not be read.
    private func index() async throws -> VoiceIndex {
        let (indexURL, references, lockURL) = (self.indexURL, referencesDirectory, self.lockURL)
        let (index, recovery) = try await offload { try VoiceIndex.read(from: indexURL, references: references) }
        guard let recovery else { return index }
        logger.error("The voice index could not be read; recovered", metadata: ["vox.voices.index": "\(indexURL.path)", "vox.recovery": "\(recovery)"])
        return try await offload {
            try Self.withLock(lockURL) {
                // Another process may have repaired it meanwhile: read again under the lock.
                let (current, again) = try VoiceIndex.read(from: indexURL, references: references)
                if again != nil {
                    VoiceIndex.setAside(indexURL)
                    try current.write(to: indexURL)
                }
                return current
            }
        }
    }

    /// The entry for `name`, or an unknown-voice error that lists the known names.
    public func entry(named name: String) async throws -> LibraryVoice {
        try Self.validateName(name)
        let index = try await index()
        guard let entry = index.entry(named: name) else {
            throw VoxError.unknownVoice(name, known: index.voices.keys.sorted())
        }
        return entry
    }

    /// Whether the recording of `entry` is on disk (its content is checked when it is used).
    public nonisolated func hasRecording(_ entry: LibraryVoice) -> Bool {
        FileManager.default.fileExists(atPath: referenceURL(for: entry).path)
    }

    /// The stored recording of voice `name`, checked against its hash, labelled with the voice's name.
    public func reference(named name: String) async throws -> VoiceReference {
        let entry = try await entry(named: name)
        let url = referenceURL(for: entry)
        return try await offload {
            guard let data = try? Data(contentsOf: url) else {
                throw VoxError(
                    .gone, "The recording of voice '\(name)' is missing from the voice library. Remove the voice and add it again.",
                    detail: url.path)
            }
            guard ConditioningKey.contentDigest(of: data) == entry.sha256 else {
                throw VoxError(
                    .gone, "The recording of voice '\(name)' was changed on disk since it was added. Remove the voice and add it again.",
                    detail: url.path)
            }
            return VoiceReference(data: data, label: name)
        }
    }

    // MARK: Blocking helpers (run inside offload)

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
        return ConditioningKey.contentDigest(of: data) == sha256
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

/// The voice library's `index.json`: voice name → what is stored for it.
///
/// ```json
/// {"version": 1, "voices": {"alice": {"sha256": "…", "format": "wav", "byteCount": 441044,
///   "addedAt": "2026-01-01T12:00:00Z", "originalFileName": "alice.wav"}}}
/// ```
struct VoiceIndex: Codable, Equatable {
    struct Record: Codable, Equatable {
        var sha256: String
        var format: VoiceReferenceFormat
        var byteCount: Int
        var addedAt: Date
        var originalFileName: String?
    }

    static let currentVersion = 1

    var version: Int = currentVersion
    var voices: [String: Record] = [:]

    func entry(named name: String) -> LibraryVoice? {
        voices[name].map {
            LibraryVoice(
                name: name, sha256: $0.sha256, format: $0.format, byteCount: $0.byteCount, addedAt: $0.addedAt,
                originalFileName: $0.originalFileName
            )
        }
    }

    var entries: [LibraryVoice] { voices.keys.sorted().compactMap(entry(named:)) }

    /// True when some voice other than `excluding` stores its reference in `sha256`.
    func isReferenced(_ sha256: String, excluding name: String? = nil) -> Bool {
        voices.contains { $0.key != name && $0.value.sha256 == sha256 }
    }

    /// Reads the index at `url`; an absent file is an empty library. One that cannot be read (or
    /// whose entries could name a path) is recovered: from the backup written beside it, else
    /// rebuilt from the recordings in `references`. `recovery` then says how (nil when the index
    /// was read as it is); the caller writes the recovered index back.
    static func read(from url: URL, references: URL) throws -> (index: VoiceIndex, recovery: String?) {
        let backup = backupURL(for: url)
        guard FileManager.default.fileExists(atPath: url.path) else {
            guard FileManager.default.fileExists(atPath: backup.path), let saved = try? parse(url: backup) else { return (VoiceIndex(), nil) }
            return (saved, "the index was missing; read its backup")
        }
        do {
            return (try parse(url: url), nil)
        } catch {
            let problem = (error as? VoxError)?.message ?? "The voice index cannot be read."
            if let saved = try? parse(url: backup) { return (saved, "\(problem) Read its backup.") }
            return (rebuilt(from: references), "\(problem) Its backup could not be read either: rebuilt from the stored recordings.")
        }
    }

    /// The index at `url`, or an error that says what is wrong with it.
    static func parse(url: URL) throws -> VoiceIndex {
        let index: VoiceIndex
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            index = try decoder.decode(VoiceIndex.self, from: Data(contentsOf: url))
        } catch {
            throw VoxError.io("The voice index \(url.lastPathComponent) cannot be read (\(error.localizedDescription)).", path: url.path)
        }
        guard index.version == currentVersion else {
            throw VoxError.io(
                "The voice index \(url.lastPathComponent) has version \(index.version); this build reads version \(currentVersion).",
                path: url.path
            )
        }
        for (name, record) in index.voices {
            guard VoiceLibrary.isValidName(name), ConditioningKey.isDigest(record.sha256) else {
                throw VoxError.io("The voice index \(url.lastPathComponent) has an invalid entry.", path: url.path)
            }
        }
        return index
    }

    /// An index of every recording in `references`, each named `recovered-<first 12 hex digits>`.
    static func rebuilt(from references: URL) -> VoiceIndex {
        var index = VoiceIndex()
        let files = (try? FileManager.default.contentsOfDirectory(at: references, includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey])) ?? []
        for file in files {
            let sha256 = file.deletingPathExtension().lastPathComponent
            guard ConditioningKey.isDigest(sha256), let format = VoiceReferenceFormat(rawValue: file.pathExtension) else { continue }
            let values = try? file.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey])
            index.voices["recovered-\(sha256.prefix(12))"] = Record(
                sha256: sha256, format: format, byteCount: values?.fileSize ?? 0,
                addedAt: values?.contentModificationDate ?? Date(timeIntervalSince1970: 0), originalFileName: nil)
        }
        return index
    }

    static func backupURL(for url: URL) -> URL { url.appendingPathExtension("bak") }

    /// Keeps an unreadable index beside the library (`index.json.unreadable-<time>`) rather than
    /// overwriting what a person may want to look at.
    static func setAside(_ url: URL) {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let aside = url.appendingPathExtension("unreadable-\(Int(Date().timeIntervalSince1970))")
        try? FileManager.default.moveItem(at: url, to: aside)
    }

    /// Writes the index and its backup, each atomically (temporary file + rename). Blocking.
    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        // The backup first: whatever happens to the index after, one of the two is whole and current.
        try AtomicFile.write(data, to: Self.backupURL(for: url))
        try AtomicFile.write(data, to: url)
    }
}

/// One named voice in the ``VoiceLibrary``: a reference recording stored by content hash.
public struct LibraryVoice: Sendable, Equatable, Hashable, Codable {
    public var name: String
    /// Lowercase hex SHA-256 of the reference's bytes; also its stored file's name.
    public var sha256: String
    public var format: VoiceReferenceFormat
    public var byteCount: Int
    public var addedAt: Date
    /// The last path component of the file it was added from, for display only (never a path, never a key).
    public var originalFileName: String?

    public init(
        name: String, sha256: String, format: VoiceReferenceFormat, byteCount: Int, addedAt: Date,
        originalFileName: String?
    ) {
        self.name = name
        self.sha256 = sha256
        self.format = format
        self.byteCount = byteCount
        self.addedAt = addedAt
        self.originalFileName = originalFileName
    }

    /// `<sha256>.<ext>`: the stored reference's file name in `voices/references/`.
    public var fileName: String { "\(sha256).\(format.fileExtension)" }
}

/// Container formats a voice reference may be stored in (what libsndfile 1.2 reads), recognised by
/// their first bytes rather than by a file name. The raw value is the stored file's extension.
public enum VoiceReferenceFormat: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case wav
    case flac
    case ogg
    case mp3
    case aiff

    public var fileExtension: String { rawValue }

    /// The format `data` starts like, or nil when it is none of these.
    public static func detect(_ data: Data) -> VoiceReferenceFormat? {
        let head = [UInt8](data.prefix(12))
        func ascii(_ text: String, at offset: Int) -> Bool {
            let bytes = Array(text.utf8)
            return head.count >= offset + bytes.count && Array(head[offset..<(offset + bytes.count)]) == bytes
        }
        if (ascii("RIFF", at: 0) || ascii("RF64", at: 0)) && ascii("WAVE", at: 8) { return .wav }
        if ascii("fLaC", at: 0) { return .flac }
        if ascii("OggS", at: 0) { return .ogg }
        if ascii("FORM", at: 0) && (ascii("AIFF", at: 8) || ascii("AIFC", at: 8)) { return .aiff }
        if ascii("ID3", at: 0) { return .mp3 }
        // An MPEG audio frame header: 11 sync bits, a version other than "reserved" (01) and a
        // layer other than "reserved" (00), which also rules out AAC's ADTS headers.
        if head.count >= 2, head[0] == 0xFF, head[1] & 0xE0 == 0xE0, head[1] & 0x18 != 0x08, head[1] & 0x06 != 0 {
            return .mp3
        }
        return nil
    }
}
