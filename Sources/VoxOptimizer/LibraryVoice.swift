import Foundation

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
