import Foundation
import Hummingbird
import VoxCore
import VoxRuntime

/// `GET /` (the web page), `GET /healthz`, `GET /metrics` and `GET /v1/models`.
struct SystemController<Context: RequestContext>: Sendable {
    let service: any SpeechService
    let queue: SynthesisQueue
    let metrics: ServerMetrics
    let configuration: ServerConfiguration
    let indexPage: ByteBuffer

    func addRoutes(to router: Router<Context>) {
        router.get("/", use: index)
        router.get("/healthz", use: health)
        router.get("/metrics", use: metricsText)
    }

    func addAPIRoutes(to group: RouterGroup<Context>) {
        group.get("models", use: models)
        group.get("models/{id}", use: model)
    }

    /// The web page shipped in the module's resources (no external resources: it works offline).
    static func loadIndexPage() throws -> ByteBuffer {
        guard let url = Bundle.module.url(forResource: "index", withExtension: "html", subdirectory: "Resources") else {
            throw VoxError.io("The web page resource index.html is missing from this build.")
        }
        return ByteBuffer(bytes: try Data(contentsOf: url))
    }

    @Sendable func index(request: Request, context: Context) async throws -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-cache",
                .contentSecurityPolicy: "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; media-src 'self' blob:; img-src 'self' data:",
            ],
            body: .init(byteBuffer: indexPage))
    }

    struct Health: ResponseEncodable {
        struct Queue: Encodable {
            var active: Int
            var waiting: Int
            var maxConcurrent: Int
            var maxWaiting: Int

            enum CodingKeys: String, CodingKey {
                case active, waiting
                case maxConcurrent = "max_concurrent"
                case maxWaiting = "max_waiting"
            }
        }

        enum Status: String, Encodable {
            case ok
            /// Still speaking, but something asked for is not in use: workers that failed to start,
            /// a cache that cannot be written (`problems` says what).
            case degraded
        }

        var status: Status
        var problems: [String]
        var isolation: Isolation
        var requestedIsolation: Isolation
        var workers: [ServiceStatus.Worker]
        var workerProblem: String?
        var workerRestarts: Int
        var optimize: Bool
        var plan: String
        var defaultVoice: String?
        var loadedVoices: [String]
        var queue: Queue
        var authentication: Bool
        /// Longest `input` a speech request may carry (the web page's counter reads it).
        var maxTextLength: Int

        enum CodingKeys: String, CodingKey {
            case status, problems, isolation, workers, optimize, plan, queue, authentication
            case requestedIsolation = "requested_isolation"
            case workerProblem = "worker_problem"
            case workerRestarts = "worker_restarts"
            case defaultVoice = "default_voice"
            case loadedVoices = "loaded_voices"
            case maxTextLength = "max_text_length"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(status, forKey: .status)
            try c.encode(problems, forKey: .problems)
            try c.encode(isolation, forKey: .isolation)
            try c.encode(requestedIsolation, forKey: .requestedIsolation)
            try c.encode(workers, forKey: .workers)
            try c.encode(workerProblem, forKey: .workerProblem)  // explicit null when all is well
            try c.encode(workerRestarts, forKey: .workerRestarts)
            try c.encode(optimize, forKey: .optimize)
            try c.encode(plan, forKey: .plan)
            try c.encode(defaultVoice, forKey: .defaultVoice)
            try c.encode(loadedVoices, forKey: .loadedVoices)
            try c.encode(queue, forKey: .queue)
            try c.encode(authentication, forKey: .authentication)
            try c.encode(maxTextLength, forKey: .maxTextLength)
        }
    }

    @Sendable func health(request: Request, context: Context) async throws -> Health {
        let status = await service.status()
        return Health(
            status: status.problems.isEmpty ? .ok : .degraded, problems: status.problems,
            isolation: status.isolation, requestedIsolation: configuration.isolation, workers: status.workers,
            workerProblem: status.workerProblem, workerRestarts: status.workerRestarts, optimize: status.optimize,
            plan: status.plan, defaultVoice: status.defaultVoice, loadedVoices: status.loadedVoices,
            queue: .init(active: queue.active, waiting: queue.waiting, maxConcurrent: queue.maxConcurrent, maxWaiting: queue.maxWaiting),
            authentication: configuration.apiKey != nil, maxTextLength: configuration.maxTextLength)
    }

    @Sendable func metricsText(request: Request, context: Context) async throws -> Response {
        metrics.update(queue: queue, status: await service.status())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    }

    struct ModelList: ResponseEncodable {
        var object = "list"
        var data: [ModelDescription]
    }

    /// The engines (`piper`, `chatterbox`), then OpenAI's model names, which every client may send
    /// and which mean "the engine that speaks the chosen voice" (available when any engine is).
    func allModels() async throws -> [ModelDescription] {
        let engines = try await service.models()
        let any = engines.contains(where: \.available)
        return engines + SpeechRequestBody.openAIModels.map { ModelDescription(id: $0, available: any) }
    }

    @Sendable func models(request: Request, context: Context) async throws -> ModelList {
        ModelList(data: try await allModels())
    }

    /// `GET /v1/models/{id}` (OpenAI's `models.retrieve`).
    @Sendable func model(request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        let models = try await allModels()
        guard let model = models.first(where: { $0.id == id }) else {
            throw APIError.notFound(
                "Unknown model '\(id.prefix(64))'. This server has \(models.map(\.id).joined(separator: ", ")).", code: .modelNotFound)
        }
        return try context.responseEncoder.encode(model, from: request, context: context)
    }
}
