/// The one error type VoxServe's libraries throw. A struct around a private code, so adding a
/// code breaks no caller; `message` is one sentence that says what was wrong and what to do.
public struct VoxError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        /// The caller's input is unusable (empty or too long text, bad parameter).
        case invalidInput = "invalid_input"
        /// A voice name or id that no library knows.
        case unknownVoice = "unknown_voice"
        /// A model file that should exist does not.
        case modelNotFound = "model_not_found"
        /// A model or config file exists but cannot be used.
        case invalidModel = "invalid_model"
        /// Audio that cannot be decoded, or is too short, long or silent.
        case invalidAudio = "invalid_audio"
        /// A file format or option this build does not support.
        case unsupported = "unsupported"
        /// A runtime failure inside an engine (ONNX Runtime, espeak-ng).
        case engineFailure = "engine_failure"
        /// A file system failure.
        case io = "io"
        /// The server is busy or a resource is exhausted.
        case unavailable = "unavailable"
        /// The request clashes with what exists (a voice name already taken).
        case conflict = "conflict"
        /// The disk (or quota) is full: nothing could be written.
        case storageFull = "storage_full"
        /// Something that was stored is no longer there (a voice's recording deleted from disk).
        case gone = "gone"
        /// The voice exists, but the engine that speaks it is not installed on this server.
        case engineNotInstalled = "engine_not_installed"
    }

    public let kind: Kind
    public let message: String
    /// Extra context (file path, stage, underlying error) for logs.
    public let detail: String?

    public init(_ kind: Kind, _ message: String, detail: String? = nil) {
        self.kind = kind
        self.message = message
        self.detail = detail
    }

    public var description: String { message }

    public static func invalidInput(_ message: String) -> VoxError { VoxError(.invalidInput, message) }
    public static func unknownVoice(_ name: String, known: [String] = []) -> VoxError {
        let hint = known.isEmpty ? "" : " Known voices: \(known.prefix(20).joined(separator: ", "))."
        return VoxError(.unknownVoice, "Unknown voice '\(name)'.\(hint) Run `voxserve voices list` to see what is installed.")
    }
    public static func modelNotFound(_ path: String) -> VoxError {
        VoxError(.modelNotFound, "Model file not found: \(path). Run `make setup` or check the path.", detail: path)
    }
    public static func invalidModel(_ message: String, path: String? = nil) -> VoxError {
        VoxError(.invalidModel, message, detail: path)
    }
    public static func invalidAudio(_ message: String) -> VoxError { VoxError(.invalidAudio, message) }
    public static func engineFailure(_ message: String, detail: String? = nil) -> VoxError {
        VoxError(.engineFailure, message, detail: detail)
    }
    public static func io(_ message: String, path: String? = nil) -> VoxError { VoxError(.io, message, detail: path) }
}
