import ArgumentParser
import Foundation
import Hummingbird
import Logging
import VoxCore
import VoxRuntime
import VoxFleet
import VoxPhonemizer
import VoxServer

extension Isolation: ExpressibleByArgument {}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server: OpenAI-compatible speech API, web page at /, metrics at /metrics; Wyoming with --wyoming-port.",
        discussion: """
            The API key may also come from VOXSERVE_API_KEY; when set, /v1/* requires \
            `Authorization: Bearer KEY`. SIGINT/SIGTERM stop accepting connections and let \
            requests in flight finish.
            """
    )

    @Option(help: "Address to bind. Anything but loopback exposes the server to the network.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(name: .customLong("api-key"), help: "Require this bearer key on /v1/* (default: $VOXSERVE_API_KEY, else none).")
    var apiKey: String?

    @Option(help: "Where synthesis runs: inprocess, or process (voxserve worker subprocesses).")
    var isolation: Isolation = .inProcess

    @Option(help: "Worker processes with --isolation process.")
    var workers = 2

    @Option(name: .customLong("max-concurrent"), help: "Syntheses at once (default: 2, or --workers with process isolation, or --max-batch when larger, so a batch can fill).")
    var maxConcurrent: Int?

    @Option(name: .customLong("max-queue"), help: "Requests that may wait for a slot; more get 429.")
    var maxQueue = ServerConfiguration().maxQueuedRequests

    @Option(name: .customLong("timeout"), help: "Seconds a speech request may take before it is answered 504.")
    var timeoutSeconds = 120

    @Option(name: .customLong("max-upload-mb"), help: "Largest voice upload in MiB.")
    var maxUploadMB = 20

    @Option(name: .customLong("max-connections"), help: "HTTP connections at once; more are answered 503 with Retry-After.")
    var maxConnections = ServerConfiguration().maxConnections

    @Option(name: .customLong("idle-timeout"), help: "Seconds an HTTP connection may wait for a complete request head (idle or slow clients) before it is closed.")
    var idleTimeoutSeconds = 30

    @Option(name: .customLong("wyoming-port"), help: "Also speak the Wyoming protocol (Home Assistant) on this TCP port (Home Assistant's default: 10200).")
    var wyomingPort: Int?

    @Option(name: .customLong("wyoming-host"), help: "Address for Wyoming (default: --host).")
    var wyomingHost: String?

    @Flag(name: .customLong("wyoming-zeroconf"), help: "Announce the Wyoming service over mDNS (needs Debian's avahi-utils and avahi-daemon).")
    var wyomingZeroconf = false

    @Option(
        name: .customLong("store"),
        help: "A fleet's shared store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require] (default: $VOXSERVE_STORE, else this machine's disk). Voices and voice conditioning are shared with every replica that names it.")
    var store: String?

    @Option(name: .customLong("store-cache-mb"), help: "Most conditioning the shared store keeps, in MiB (least recently used out first; recordings are never evicted).")
    var storeCacheMB = 2048

    @Option(name: .customLong("store-cache-entries"), help: "Most conditioning entries the shared store keeps (least recently used out first).")
    var storeCacheEntries = 10_000

    /// Benchmarks only: every Chatterbox sentence generates exactly this many tokens, ignoring the
    /// stop token (stand-ins with random weights never choose it). `voxserve bench chatterbox` uses it.
    @Option(name: .customLong("bench-max-new-tokens"), help: .hidden)
    var benchMaxNewTokens: Int?

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535.") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1…64.") }
        guard maxConcurrent.map({ $0 >= 1 }) ?? true else { throw ValidationError("--max-concurrent must be at least 1.") }
        if let benchMaxNewTokens, benchMaxNewTokens < 1 { throw ValidationError("--bench-max-new-tokens must be at least 1.") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must not be negative.") }
        guard timeoutSeconds >= 1 else { throw ValidationError("--timeout must be at least 1 second.") }
        guard (1...1024).contains(maxUploadMB) else { throw ValidationError("--max-upload-mb must be 1…1024.") }
        guard (1...100_000).contains(maxConnections) else { throw ValidationError("--max-connections must be 1…100000.") }
        guard (1...3600).contains(idleTimeoutSeconds) else { throw ValidationError("--idle-timeout must be 1…3600 seconds.") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty.") }
        guard storeCacheMB >= 1 else { throw ValidationError("--store-cache-mb must be at least 1.") }
        guard storeCacheEntries >= 1 else { throw ValidationError("--store-cache-entries must be at least 1.") }
        if let url = storeURL {
            do {
                _ = try StoreLocation(url)
            } catch let error as VoxError {
                throw ValidationError("--store: \(error.message)")
            }
            if isolation == .process {
                throw ValidationError("--store works with --isolation inprocess only (workers keep their own cache).")
            }
        }
        if let wyomingPort {
            guard (0...65535).contains(wyomingPort) else { throw ValidationError("--wyoming-port must be 0…65535.") }
            guard wyomingPort != port || wyomingPort == 0 || (wyomingHost ?? host) != host else {
                throw ValidationError("--wyoming-port must differ from --port.")
            }
        } else if wyomingHost != nil || wyomingZeroconf {
            throw ValidationError("--wyoming-host and --wyoming-zeroconf need --wyoming-port (Home Assistant's default is 10200).")
        }
    }

    /// The server's configuration from the options and the runtime's (the environment's), mapped in this one place.
    func serverConfiguration(runtime: RuntimeConfiguration) -> ServerConfiguration {
        ServerConfiguration(
            host: host, port: port, apiKey: apiKey ?? runtime.apiKey, isolation: isolation, workers: workers,
            optimize: runtime.optimize, maxUploadBytes: maxUploadMB * 1024 * 1024,
            maxConcurrentSyntheses: maxConcurrent ?? max(isolation == .process ? workers : 2, runtime.overrides.maxBatch ?? 0),
            maxQueuedRequests: maxQueue, requestTimeout: .seconds(timeoutSeconds),
            maxConnections: maxConnections, idleTimeout: .seconds(idleTimeoutSeconds),
            wyoming: wyomingPort.map { WyomingConfiguration(host: wyomingHost ?? host, port: $0, zeroconf: wyomingZeroconf) })
    }

    func run() async throws {
        VoxServeCommand.bootstrapLogging(verbose: engine.verbose)
        var logger = Logger(label: "voxserve")
        logger.logLevel = engine.verbose ? .debug : .info
        var runtime = engine.configuration(warmUp: true)
        runtime.benchMaxNewTokens = benchMaxNewTokens
        let configuration = serverConfiguration(runtime: runtime)
        Self.raiseFileLimit(toHold: configuration.maxConnections, logger: logger)
        let local: EngineSpeechService
        if let url = storeURL {
            // A replica of a fleet: conditioning's persistent tier and the voice library in PostgreSQL.
            let health = CacheHealth()
            let store = FleetStore(
                location: try StoreLocation(url),
                limits: FleetStore.Limits(conditioningBytes: storeCacheMB * 1024 * 1024, conditioningEntries: storeCacheEntries),
                health: health, logger: logger)
            let factory = SynthesizerFactory(
                configuration: runtime, phonemizer: EspeakPhonemizer.shared, logger: logger,
                sharedConditioningStore: store.conditioningStore, health: health)
            let registry = VoiceRegistry(configuration: runtime, logger: logger)
            let voices = FleetVoices(store: store, registry: registry, logger: logger)
            local = EngineSpeechService(
                factory: factory, registry: registry, warmUpOnStart: true, logger: logger,
                sharedVoices: voices, services: [FleetService(store: store, voices: voices)])
            logger.info("sharing voices and conditioning through PostgreSQL", metadata: ["vox.store": "\(store.location.description)"])
        } else {
            local = EngineSpeechService(configuration: runtime, warmUpOnStart: configuration.isolation == .inProcess, logger: logger)
        }
        let service: any SpeechService
        switch configuration.isolation {
        case .inProcess:
            service = local
        case .process:
            service = WorkerSpeechService(
                local: local, workers: configuration.workers,
                executable: configuration.workerExecutable.map { URL(fileURLWithPath: $0) } ?? WorkerSpeechService.currentExecutable(),
                arguments: engine.workerArguments(engines: configuration.workers, optimize: configuration.optimize),
                startTimeout: configuration.workerStartTimeout, logger: logger)
        }
        if !Self.isLoopback(configuration.host) && configuration.apiKey == nil {
            logger.warning("listening beyond loopback without an API key: anyone who can reach \(configuration.host):\(configuration.port) can use this server")
        }
        if let wyoming = configuration.wyoming, !Self.isLoopback(wyoming.host) {
            logger.warning("Wyoming has no authentication: anyone who can reach \(wyoming.host):\(wyoming.port) can use it (the API key covers HTTP only)")
        }
        let app = try buildApplication(configuration: configuration, service: service, logger: logger)
        try await app.runService()
    }

    /// `--store`, else `VOXSERVE_STORE`.
    var storeURL: String? {
        store ?? ProcessInfo.processInfo.environment["VOXSERVE_STORE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    static func isLoopback(_ host: String) -> Bool { ["127.0.0.1", "localhost", "::1"].contains(host) }

    /// Raises this process's open-file limit to its hard limit (often 1,024 of 1,048,576): every
    /// connection, model and log holds a descriptor, and the connection limit must be what runs
    /// out first, not the descriptors.
    static func raiseFileLimit(toHold connections: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let needed = rlim_t(connections + ServerConfiguration.connectionOverflow + 256)
        if limit.rlim_cur < needed {
            logger.warning(
                "the open-file limit (\(limit.rlim_cur)) is low for --max-connections \(connections); raise it (ulimit -n) or lower --max-connections")
        }
    }
}
