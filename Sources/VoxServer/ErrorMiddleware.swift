import Foundation
import Hummingbird
import Logging
import VoxCore

/// Turns every error that reaches it into OpenAI's JSON error shape: the server's own
/// `APIError`s, the libraries' `VoxError`s (through their one mapping), Hummingbird's
/// `HTTPError`s (unknown route, body too large) and anything unexpected (500, logged).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = Self.apiError(for: error, request: request)
            if apiError.status.code >= 500 {
                context.logger.error(
                    "request failed",
                    metadata: ["vox.path": "\(request.uri.path)", "vox.error": "\(error)", "vox.status": "\(apiError.status.code)"])
            } else {
                context.logger.debug("request rejected", metadata: ["vox.path": "\(request.uri.path)", "vox.error": "\(apiError)"])
            }
            return apiError.response()
        }
    }

    static func apiError(for error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as VoxError:
            return error.apiError
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return .notFound("There is no \(request.method) \(request.uri.path) here. See GET / for the web page and /v1/* for the API.", code: .notFound)
            case .contentTooLarge:
                return .tooLarge(error.body ?? "The request body is too large.")
            default:
                let type: APIError.ErrorType = error.status.code >= 500 ? .server : .invalidRequest
                return APIError(error.status, type: type, code: .http(error.status.code), message: error.body ?? error.status.reasonPhrase)
            }
        case is CancellationError:
            return APIError(.serviceUnavailable, type: .server, code: .cancelled, message: "The request was cancelled (the server is shutting down?).", retryAfter: 2)
        default:
            return APIError(.internalServerError, type: .server, code: .internalError, message: "Internal error: \(error)")
        }
    }
}
