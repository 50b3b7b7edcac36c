import Hummingbird

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
