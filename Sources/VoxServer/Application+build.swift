import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VoxCore
import VoxRuntime

/// The request context of VoxServe's router.
public typealias VoxRequestContext = BasicRequestContext

/// Builds the application: HTTP routes, middleware, metrics, the speech service's long-running
/// parts and, when configured, the Wyoming server. `voxserve serve` runs what this returns; tests
/// call it too.
///
/// Routes (`/v1/*` require `Authorization: Bearer KEY` when `configuration.apiKey` is set):
/// - `GET /` web page; `GET /healthz`; `GET /metrics` (Prometheus text)
/// - `POST /v1/audio/speech`; `GET /v1/models`
/// - `GET /v1/voices`; `POST /v1/voices` (multipart: `name`, `file`); `DELETE /v1/voices/{id}`
public func buildApplication(
    configuration: ServerConfiguration,
    service: any SpeechService,
    logger: Logger
) throws -> some ApplicationProtocol {
    try buildServer(configuration: configuration, service: service, logger: logger).application
}

/// The application and, with `configuration.wyoming`, the Wyoming server among its services
/// (returned too, so that tests can read the port it chose). Both protocols share one synthesis
/// queue, one set of metrics and the speech service.
func buildServer(
    configuration: ServerConfiguration,
    service: any SpeechService,
    logger: Logger
) throws -> (application: some ApplicationProtocol, wyoming: WyomingServer?) {
    try configuration.validate()
    let metrics = ServerMetrics()
    let queue = SynthesisQueue(maxConcurrent: configuration.maxConcurrentSyntheses, maxWaiting: configuration.maxQueuedRequests)
    let router = try buildRouter(configuration: configuration, service: service, queue: queue, metrics: metrics)
    MemoryTrimmer.limitArenas()
    var services = service.lifecycleServices + [MemoryTrimmer()]
    let wyoming = configuration.wyoming.map { wyoming in
        WyomingServer(
            configuration: wyoming, service: service, queue: queue, metrics: metrics,
            settings: WyomingSession.Settings(
                maxTextLength: configuration.maxTextLength, requestTimeout: configuration.requestTimeout,
                retryAfterSeconds: configuration.retryAfterSeconds, webPage: "http://\(configuration.host):\(configuration.port)/"),
            logger: logger)
    }
    if let wyoming { services.append(wyoming) }
    let connections = ConnectionLimit(limit: configuration.maxConnections, retryAfterSeconds: configuration.retryAfterSeconds)
    let application = Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [connections.handler()],
                idleTimeout: .nanoseconds(Int64(configuration.idleTimeout.seconds * 1e9)))),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "VoxServe",
            availableConnectionsDelegate: .maximum(configuration.maxConnections + ConnectionLimit.overflow, logger: logger)),
        services: services,
        logger: logger)
    return (application, wyoming)
}

/// The router alone (the application minus its address and services).
func buildRouter(
    configuration: ServerConfiguration, service: any SpeechService, queue: SynthesisQueue, metrics: ServerMetrics
) throws -> Router<VoxRequestContext> {
    let router = Router(context: VoxRequestContext.self)
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    router.add(middleware: ErrorMiddleware())

    let system = SystemController<VoxRequestContext>(
        service: service, queue: queue, metrics: metrics, configuration: configuration,
        indexPage: try SystemController<VoxRequestContext>.loadIndexPage())
    system.addRoutes(to: router)

    // Wrong methods on known paths get a JSON 405 rather than a 404.
    let known: [(String, [HTTPRequest.Method])] = [
        ("/", [.get]), ("/healthz", [.get]), ("/metrics", [.get]), ("/v1/audio/speech", [.post]),
        ("/v1/models", [.get]), ("/v1/voices", [.get, .post]), ("/v1/voices/{id}", [.delete]),
    ]
    for (path, allowed) in known {
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where !allowed.contains(method) {
            router.on(RouterPath(path), method: method) { request, _ -> Response in
                throw APIError.methodNotAllowed(method, path: request.uri.path, allowed: allowed)
            }
        }
    }

    let api = router.group("v1")
    if let key = configuration.apiKey {
        api.add(middleware: APIKeyMiddleware(key: key))
    }
    system.addAPIRoutes(to: api)
    SpeechController(service: service, queue: queue, metrics: metrics, configuration: configuration).addRoutes(to: api)
    VoicesController(service: service, configuration: configuration).addRoutes(to: api)
    return router
}
