import CAudioIO
import Foundation

/// A failed libsndfile call. Internal: `AudioDecoder` and `AudioEncoder` turn it into a `VoxError`
/// that names the input and says what to do.
struct SoundFileError: Error, Sendable {
    /// libsndfile's public error classes; every other code is a more specific format error.
    enum Kind: Sendable {
        case unrecognisedFormat
        case system
        case malformedFile
        case unsupportedEncoding
        case formatSpecific
    }

    let code: Int32
    /// libsndfile's own sentence for `code`.
    let message: String

    var kind: Kind {
        switch Int(code) {
        case SF_ERR_UNRECOGNISED_FORMAT: .unrecognisedFormat
        case SF_ERR_SYSTEM: .system
        case SF_ERR_MALFORMED_FILE: .malformedFile
        case SF_ERR_UNSUPPORTED_ENCODING: .unsupportedEncoding
        default: .formatSpecific
        }
    }

    /// The one check for libsndfile status codes: 0 passes, anything else throws.
    static func check(_ code: Int32, message: String) throws {
        guard code != 0 else { return }
        throw SoundFileError(code: code, message: message.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
