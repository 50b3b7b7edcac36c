/// The one rule for voice names, whoever checks them (the voice library, the CLI, the server):
/// 1–64 characters of `A–Z a–z 0–9 _ . -`, not starting with `.` and without `..`. A name is
/// only ever a key, never part of a path, but one that could be a path is refused before any lookup.
public enum VoiceName {
    public static let maxLength = 64

    public static func isValid(_ name: String) -> Bool {
        let scalars = name.unicodeScalars
        guard (1...maxLength).contains(scalars.count) else { return false }
        let allowed = scalars.allSatisfy { scalar in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "_", ".", "-": true
            default: false
            }
        }
        return allowed && !name.hasPrefix(".") && !name.contains("..")
    }

    /// Throws a `VoxError` (invalid input) that says what a voice name may be.
    public static func validate(_ name: String) throws {
        guard !isValid(name) else { return }
        let shown = String(name.prefix(80)).debugDescription
        if name.isEmpty {
            throw VoxError.invalidInput("A voice name cannot be empty: use 1–\(maxLength) characters of letters, digits, '_', '.' and '-'.")
        }
        if name.unicodeScalars.count > maxLength {
            throw VoxError.invalidInput("\(shown) is not a valid voice name: it is \(name.unicodeScalars.count) characters long; the limit is \(maxLength).")
        }
        throw VoxError.invalidInput(
            "\(shown) is not a valid voice name: use letters, digits, '_', '.' and '-' only, not starting with '.' and without '..'.")
    }
}

/// Where a voice comes from.
public enum VoiceSource: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    /// A Piper voice installed by `make setup` (the default voice).
    case setup
    /// A Piper voice the user put in `$VOXSERVE_HOME/voices`.
    case user
    /// A Piper `.onnx` file named by its path on the command line.
    case path
    /// A reference recording stored in the voice library (`voxserve voices add`, `POST /v1/voices`).
    case upload
}
