import Foundation
import Hummingbird

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
