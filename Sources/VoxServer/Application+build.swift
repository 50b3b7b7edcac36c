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
    let api: [(String, [HTTPRequest.Method])] = [
        ("/audio/speech", [.post]), ("/models", [.get]), ("/models/{id}", [.get]), ("/voices", [.get, .post]),
        ("/voices/{id}", [.delete]), ("/audio/voices", [.get, .post]), ("/audio/voices/{id}", [.delete]),
    ]
    let known: [(String, [HTTPRequest.Method])] =
        [("/", [.get]), ("/healthz", [.get]), ("/metrics", [.get])] + api.map { ("/v1" + $0, $1) } + api.map { ($0, $1) }
    for (path, allowed) in known {
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where !allowed.contains(method) {
            router.on(RouterPath(path), method: method) { request, _ -> Response in
                throw APIError.methodNotAllowed(method, path: request.uri.path, allowed: allowed)
            }
        }
    }

    // The API under /v1, and again without the prefix: clients configured with a base URL that
    // lacks it (http://host:8080 rather than …/v1) call /audio/speech and /models.
    let speech = SpeechController<VoxRequestContext>(service: service, queue: queue, metrics: metrics, configuration: configuration)
    let voices = VoicesController<VoxRequestContext>(service: service, configuration: configuration)
    for group in [router.group("v1"), router.group()] {
        if let key = configuration.apiKey {
            group.add(middleware: APIKeyMiddleware(key: key))
        }
        system.addAPIRoutes(to: group)
        speech.addRoutes(to: group)
        voices.addRoutes(to: group)
    }
    return router
}
