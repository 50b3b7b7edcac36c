import Foundation

/// A recording that a cloning engine conditions on. Identified by its content, never by its path.
public struct VoiceReference: Sendable, Equatable {
    /// The encoded file bytes (WAV, FLAC, OGG, MP3).
    public var data: Data
    /// A label for logs and errors (a file name or a voice name); never used as a key.
    public var label: String

    public init(data: Data, label: String) {
        self.data = data
        self.label = label
    }

    public init(contentsOf url: URL) throws {
        do {
            self.init(data: try Data(contentsOf: url), label: url.lastPathComponent)
        } catch {
            throw VoxError.io("Cannot read reference audio \(url.path): \(error.localizedDescription)", path: url.path)
        }
    }
}
