import Foundation
import Hummingbird
import VoxCore

/// An error the HTTP layer answers with OpenAI's error shape:
/// `{"error": {"message": "…", "type": "…", "param": null, "code": "…"}}`.
///
/// Errors of the libraries (`VoxError`) are mapped onto it in one place
/// (`VoxError+HTTPResponseError.swift`); errors that only exist in the server (authentication,
/// a full queue, a timeout, an unknown route) are made here.
public struct APIError: Error, HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// OpenAI's error class: `invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`.
    public var type: String
    /// Machine-readable reason, e.g. `voice_not_found`.
    public var code: String
    public var message: String
    /// The request field at fault, when there is one.
    public var param: String?
    /// Seconds for `Retry-After` (429, 503).
    public var retryAfter: Int?

    public init(
        _ status: HTTPResponse.Status, type: String, code: String, message: String, param: String? = nil,
        retryAfter: Int? = nil
    ) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func badRequest(_ message: String, code: String = "invalid_request", param: String? = nil) -> APIError {
        APIError(.badRequest, type: "invalid_request_error", code: code, message: message, param: param)
    }

    public static func notFound(_ message: String, code: String) -> APIError {
        APIError(.notFound, type: "invalid_request_error", code: code, message: message)
    }

    public static func unauthorized(_ message: String) -> APIError {
        APIError(.unauthorized, type: "authentication_error", code: "invalid_api_key", message: message)
    }

    public static func queueFull(retryAfter: Int) -> APIError {
        APIError(
            .tooManyRequests, type: "rate_limit_error", code: "queue_full",
            message: "The server is busy: every synthesis slot and queue place is taken. Retry after \(retryAfter) s.",
            retryAfter: retryAfter)
    }

    public static func timeout(after duration: Duration) -> APIError {
        APIError(
            .gatewayTimeout, type: "server_error", code: "timeout",
            message: "The request did not finish within \(duration.seconds.formatted(decimals: 0)) s. Try shorter text, or retry when the server is less busy.")
    }

    public static func tooLarge(_ message: String) -> APIError {
        APIError(.contentTooLarge, type: "invalid_request_error", code: "payload_too_large", message: message)
    }

    public static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allowed: [HTTPRequest.Method]) -> APIError {
        APIError(
            .methodNotAllowed, type: "invalid_request_error", code: "method_not_allowed",
            message: "\(method) is not allowed on \(path); use \(allowed.map(\.rawValue).joined(separator: " or ")).")
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            var message: String
            var type: String
            var param: String?
            var code: String

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)  // explicit null, as OpenAI sends it
                try c.encode(code, forKey: .code)
            }

            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }

        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The JSON response for this error.
    public func response() -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Body(error: .init(message: message, type: type, param: param, code: code)))) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

extension Double {
    func formatted(decimals: Int) -> String { String(format: "%.\(decimals)f", self) }
}
