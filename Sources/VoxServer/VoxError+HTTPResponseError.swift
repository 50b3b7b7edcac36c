import Hummingbird
import VoxCore
import VoxRuntime

/// The one place where the libraries' errors become HTTP answers.
extension VoxError: HTTPResponseError {
    public var status: HTTPResponse.Status { apiError.status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        apiError.redacted().response()
    }

    /// This error as the server answers it.
    public var apiError: APIError {
        switch kind {
        case .invalidInput:
            APIError(.badRequest, type: .invalidRequest, code: .invalidInput, message: message)
        case .unknownVoice:
            APIError(.notFound, type: .invalidRequest, code: .voiceNotFound, message: message, param: "voice")
        case .modelNotFound:
            APIError(.notFound, type: .invalidRequest, code: .modelNotFound, message: message, param: "model")
        case .invalidAudio:
            APIError(.badRequest, type: .invalidRequest, code: .invalidAudio, message: message, param: "file")
        case .unsupported:
            APIError(.notImplemented, type: .invalidRequest, code: .unsupported, message: message)
        case .unavailable:
            APIError(.serviceUnavailable, type: .server, code: .unavailable, message: message, retryAfter: 2)
        case .invalidModel:
            APIError(.internalServerError, type: .server, code: .invalidModel, message: message)
        case .engineFailure:
            APIError(.internalServerError, type: .server, code: .engineFailure, message: message)
        case .io:
            APIError(.internalServerError, type: .server, code: .ioError, message: message)
        case .conflict:
            APIError(.conflict, type: .invalidRequest, code: .voiceExists, message: message, param: "name")
        case .storageFull:
            APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), type: .server, code: .insufficientStorage, message: message)
        case .gone:
            APIError(.gone, type: .invalidRequest, code: .voiceUnavailable, message: message, param: "voice")
        case .engineNotInstalled:
            // 422, not 501: the OpenAI SDKs retry every 5xx, and waiting will not install anything.
            APIError(.unprocessableContent, type: .invalidRequest, code: .engineNotInstalled, message: message, param: "voice")
        }
    }
}
