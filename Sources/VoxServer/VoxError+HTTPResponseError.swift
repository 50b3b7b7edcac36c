import Hummingbird
import VoxCore

/// The one place where the libraries' errors become HTTP answers.
extension VoxError: HTTPResponseError {
    public var status: HTTPResponse.Status { apiError.status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        apiError.response()
    }

    /// This error as the server answers it.
    public var apiError: APIError {
        switch kind {
        case .invalidInput:
            APIError(.badRequest, type: "invalid_request_error", code: "invalid_input", message: message)
        case .unknownVoice:
            APIError(.notFound, type: "invalid_request_error", code: "voice_not_found", message: message, param: "voice")
        case .modelNotFound:
            APIError(.notFound, type: "invalid_request_error", code: "model_not_found", message: message, param: "model")
        case .invalidAudio:
            APIError(.badRequest, type: "invalid_request_error", code: "invalid_audio", message: message, param: "file")
        case .unsupported:
            APIError(.notImplemented, type: "invalid_request_error", code: "unsupported", message: message)
        case .unavailable:
            APIError(.serviceUnavailable, type: "server_error", code: "unavailable", message: message, retryAfter: 2)
        case .invalidModel:
            APIError(.internalServerError, type: "server_error", code: "invalid_model", message: message)
        case .engineFailure:
            APIError(.internalServerError, type: "server_error", code: "engine_failure", message: message)
        case .io:
            APIError(.internalServerError, type: "server_error", code: "io_error", message: message)
        }
    }
}
