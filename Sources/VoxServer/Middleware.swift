import Foundation
import Hummingbird
import NIOCore
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
            return apiError.redacted().response()
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
        case is NIOTooManyBytesError:
            return .tooLarge("The request body is larger than this route accepts.")
        case is CancellationError:
            return APIError(.serviceUnavailable, type: .server, code: .cancelled, message: "The request was cancelled (the server is shutting down?).", retryAfter: 2)
        default:
            // The error itself goes to the log (above), never to the client: it may name internals.
            return APIError(.internalServerError, type: .server, code: .internalError, message: "The server failed to answer this request; its log says why.")
        }
    }
}

/// Requires `Authorization: Bearer <key>` on the routes it guards (`/v1/*`).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: [UInt8]

    init(key: String) {
        self.key = Array(key.utf8)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("This server needs an API key: send `Authorization: Bearer <key>`.")
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix(prefix) else {
            throw APIError.unauthorized("The Authorization header must be `Bearer <key>`.")
        }
        let given = Array(header.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces).utf8)
        guard Self.constantTimeEqual(given, key) else {
            throw APIError.unauthorized("The API key is wrong.")
        }
        return try await next(request, context)
    }

    /// Compares without returning early on the first difference.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// Counts every request by route, method and status, and times it to its last byte.
/// Outermost middleware, so it sees the status the error middleware chose.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let route = context.endpointPath ?? "NotFound"
        let method = request.method.rawValue
        let status = response.status.code
        let metrics = self.metrics
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { metrics.recordRequest(route: route, method: method, status: status, duration: ContinuousClock.now - start) }
            try await body.write(writer)
        }
        return response
    }
}
