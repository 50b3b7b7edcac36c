import Foundation
import VoxCore

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

    /// Reads the index at `url`; an absent file is an empty library. An index that does not parse,
    /// or whose entries could name a path, is an error the user must resolve: silently dropping it
    /// would forget their voices.
    static func read(from url: URL) throws -> VoiceIndex {
        guard FileManager.default.fileExists(atPath: url.path) else { return VoiceIndex() }
        let index: VoiceIndex
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            index = try decoder.decode(VoiceIndex.self, from: Data(contentsOf: url))
        } catch {
            throw VoxError.io(
                "The voice index \(url.path) cannot be read (\(error)). Fix it, or move it aside and add the voices again.",
                path: url.path
            )
        }
        guard index.version == currentVersion else {
            throw VoxError.io(
                "The voice index \(url.path) has version \(index.version); this build reads version \(currentVersion).",
                path: url.path
            )
        }
        for (name, record) in index.voices {
            guard VoiceLibrary.isValidName(name), ConditioningKey.isDigest(record.sha256) else {
                throw VoxError.io(
                    "The voice index \(url.path) has an invalid entry '\(name)'. Fix it, or remove that entry.",
                    path: url.path
                )
            }
        }
        return index
    }

    /// Writes the index atomically (temporary file + rename). Blocking.
    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try ConditioningFileIO.writeAtomically(try encoder.encode(self), to: url)
    }
}
