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
    /// OpenAI's error classes.
    public enum ErrorType: String, Sendable, Equatable {
        case invalidRequest = "invalid_request_error"
        case authentication = "authentication_error"
        case rateLimit = "rate_limit_error"
        case server = "server_error"
    }

    /// Machine-readable reasons, as the `code` field spells them.
    public enum Code: Sendable, Equatable, CustomStringConvertible {
        case known(Known)
        /// An HTTP error from the framework with no reason of ours (`http_<status>`).
        case http(Int)

        public enum Known: String, Sendable, Equatable {
        case cancelled = "cancelled"
        case engineFailure = "engine_failure"
        case internalError = "internal_error"
        case invalidApiKey = "invalid_api_key"
        case invalidAudio = "invalid_audio"
        case invalidContentType = "invalid_content_type"
        case invalidInput = "invalid_input"
        case invalidJson = "invalid_json"
        case invalidModel = "invalid_model"
        case invalidMultipart = "invalid_multipart"
        case invalidRequest = "invalid_request"
        case invalidType = "invalid_type"
        case invalidVoiceName = "invalid_voice_name"
        case ioError = "io_error"
        case methodNotAllowed = "method_not_allowed"
        case missingField = "missing_field"
        case modelNotFound = "model_not_found"
        case notFound = "not_found"
        case payloadTooLarge = "payload_too_large"
        case queueFull = "queue_full"
        case timeout = "timeout"
        case unavailable = "unavailable"
        case unsupported = "unsupported"
        case unsupportedResponseFormat = "unsupported_response_format"
        case unsupportedStreamFormat = "unsupported_stream_format"
        case voiceExists = "voice_exists"
        case insufficientStorage = "insufficient_storage"
        case voiceUnavailable = "voice_unavailable"
        case voiceNotFound = "voice_not_found"
        case engineNotInstalled = "engine_not_installed"
        }

        public var rawValue: String {
            switch self {
            case .known(let known): known.rawValue
            case .http(let status): "http_\(status)"
            }
        }

        public var description: String { rawValue }
    }

    public var type: ErrorType
    /// Machine-readable reason, e.g. `voice_not_found`.
    public var code: Code
    public var message: String
    /// The request field at fault, when there is one.
    public var param: String?
    /// Seconds for `Retry-After` (429, 503).
    public var retryAfter: Int?

    public init(
        _ status: HTTPResponse.Status, type: ErrorType, code: Code, message: String, param: String? = nil,
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

    /// This error as a client may see it: a server error's message keeps only the last component
    /// of any absolute path in it ("…/model.onnx"), so it does not reveal where VoxServe keeps its
    /// files. The full message stays in the log.
    public func redacted() -> APIError {
        guard status.code >= 500 else { return self }
        var copy = self
        copy.message = Self.redactingPaths(message)
        return copy
    }

    private static let absolutePath = try! NSRegularExpression(pattern: #"(?<![\w.:/])/(?:[^\s"'()\[\],;/]+/)+([^\s"'()\[\],;/]*)"#)

    static func redactingPaths(_ text: String) -> String {
        let range = NSRange(text.startIndex..., in: text)
        return absolutePath.stringByReplacingMatches(in: text, range: range, withTemplate: "…/$1")
    }

    public static func badRequest(_ message: String, code: Code = .invalidRequest, param: String? = nil) -> APIError {
        APIError(.badRequest, type: .invalidRequest, code: code, message: message, param: param)
    }

    public static func notFound(_ message: String, code: Code) -> APIError {
        APIError(.notFound, type: .invalidRequest, code: code, message: message)
    }

    public static func unauthorized(_ message: String) -> APIError {
        APIError(.unauthorized, type: .authentication, code: .invalidApiKey, message: message)
    }

    public static func queueFull(retryAfter: Int) -> APIError {
        APIError(
            .tooManyRequests, type: .rateLimit, code: .queueFull,
            message: "The server is busy: every synthesis slot and queue place is taken. Retry after \(retryAfter) s.",
            retryAfter: retryAfter)
    }

    public static func timeout(after duration: Duration) -> APIError {
        APIError(
            .gatewayTimeout, type: .server, code: .timeout,
            message: "The request did not finish within \(duration.seconds.formatted(decimals: 0)) s. Try shorter text, or retry when the server is less busy.")
    }

    public static func tooLarge(_ message: String) -> APIError {
        APIError(.contentTooLarge, type: .invalidRequest, code: .payloadTooLarge, message: message)
    }

    public static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allowed: [HTTPRequest.Method]) -> APIError {
        APIError(
            .methodNotAllowed, type: .invalidRequest, code: .methodNotAllowed,
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
        let data = (try? encoder.encode(Body(error: .init(message: message, type: type.rawValue, param: param, code: code.rawValue)))) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError.Code {
    // Each known reason reads as `.timeout`, `.voiceNotFound`, … where a `Code` is expected.
    public static let cancelled = APIError.Code.known(.cancelled)
    public static let engineFailure = APIError.Code.known(.engineFailure)
    public static let internalError = APIError.Code.known(.internalError)
    public static let invalidApiKey = APIError.Code.known(.invalidApiKey)
    public static let invalidAudio = APIError.Code.known(.invalidAudio)
    public static let invalidContentType = APIError.Code.known(.invalidContentType)
    public static let invalidInput = APIError.Code.known(.invalidInput)
    public static let invalidJson = APIError.Code.known(.invalidJson)
    public static let invalidModel = APIError.Code.known(.invalidModel)
    public static let invalidMultipart = APIError.Code.known(.invalidMultipart)
    public static let invalidRequest = APIError.Code.known(.invalidRequest)
    public static let invalidType = APIError.Code.known(.invalidType)
    public static let invalidVoiceName = APIError.Code.known(.invalidVoiceName)
    public static let ioError = APIError.Code.known(.ioError)
    public static let methodNotAllowed = APIError.Code.known(.methodNotAllowed)
    public static let missingField = APIError.Code.known(.missingField)
    public static let modelNotFound = APIError.Code.known(.modelNotFound)
    public static let notFound = APIError.Code.known(.notFound)
    public static let payloadTooLarge = APIError.Code.known(.payloadTooLarge)
    public static let queueFull = APIError.Code.known(.queueFull)
    public static let timeout = APIError.Code.known(.timeout)
    public static let unavailable = APIError.Code.known(.unavailable)
    public static let unsupported = APIError.Code.known(.unsupported)
    public static let unsupportedResponseFormat = APIError.Code.known(.unsupportedResponseFormat)
    public static let unsupportedStreamFormat = APIError.Code.known(.unsupportedStreamFormat)
    public static let voiceExists = APIError.Code.known(.voiceExists)
    public static let insufficientStorage = APIError.Code.known(.insufficientStorage)
    public static let voiceUnavailable = APIError.Code.known(.voiceUnavailable)
    public static let voiceNotFound = APIError.Code.known(.voiceNotFound)
    public static let engineNotInstalled = APIError.Code.known(.engineNotInstalled)
}
