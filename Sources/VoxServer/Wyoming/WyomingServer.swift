import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import VoxCore
import VoxRuntime

/// `voxserve serve --wyoming-port`: the Wyoming protocol over TCP (what Home Assistant's Wyoming
/// integration speaks), beside the HTTP API in the same process.
public struct WyomingConfiguration: Sendable, Equatable {
    /// Address to bind; `serve` passes its HTTP host unless `--wyoming-host` says otherwise.
    public var host: String
    /// Home Assistant's default is 10200; 0 picks a free port (tests).
    public var port: Int
    /// Announce the service over mDNS with avahi-publish-service (`--wyoming-zeroconf`).
    public var zeroconf: Bool
    /// Connections at once; one more gets an `error` event and is closed.
    public var maxConnections: Int
    /// A client that stops in the middle of a frame for this long is disconnected.
    public var frameTimeout: Duration
    /// A connection with no traffic either way for this long is closed.
    public var idleTimeout: Duration
    var limits = WyomingFrameLimits()

    public init(
        host: String = "127.0.0.1", port: Int = 10200, zeroconf: Bool = false, maxConnections: Int = 64,
        frameTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(300)
    ) {
        self.host = host
        self.port = port
        self.zeroconf = zeroconf
        self.maxConnections = maxConnections
        self.frameTimeout = frameTimeout
        self.idleTimeout = idleTimeout
    }

    public func validate() throws {
        guard (0...65535).contains(port) else { throw VoxError.invalidInput("the Wyoming port must be 0…65535 (got \(port)).") }
        guard maxConnections >= 1 else { throw VoxError.invalidInput("Wyoming max connections must be at least 1.") }
        guard frameTimeout > .zero, idleTimeout > .zero else { throw VoxError.invalidInput("Wyoming timeouts must be positive.") }
    }
}

/// Accepts Wyoming connections and runs a `WyomingSession` for each. A `Service` in the HTTP
/// application's group: it stops accepting on graceful shutdown, closes idle connections at once
/// and lets each busy one finish what it is speaking.
///
/// Thread safety: mutable state lives in `state`, behind its lock.
final class WyomingServer: Service, Sendable {
    private struct State {
        var nextID = 0
        /// Open connections, and whether each is handling an event now.
        var connections: [Int: (channel: any Channel, busy: Bool)] = [:]
        var shuttingDown = false
    }

    let configuration: WyomingConfiguration
    private let service: any SpeechService
    private let queue: SynthesisQueue
    private let metrics: ServerMetrics
    private let settings: WyomingSession.Settings
    private let logger: Logger
    private let state = Locked(State())
    private let bound = OneShot<Int>()

    init(
        configuration: WyomingConfiguration, service: any SpeechService, queue: SynthesisQueue, metrics: ServerMetrics,
        settings: WyomingSession.Settings, logger: Logger
    ) {
        self.configuration = configuration
        self.service = service
        self.queue = queue
        self.metrics = metrics
        self.settings = settings
        self.logger = logger
    }

    /// The port it listens on, once it does (the chosen one when configured with 0).
    var port: Int {
        get async throws { try await bound.value }
    }

    /// Connections open now.
    var connectionCount: Int { state.withLock { $0.connections.count } }

    func run() async throws {
        let limits = configuration.limits
        let frameTimeout = TimeAmount.nanoseconds(Int64(configuration.frameTimeout.seconds * 1e9))
        let idleTimeout = TimeAmount.nanoseconds(Int64(configuration.idleTimeout.seconds * 1e9))
        let server: NIOAsyncChannel<NIOAsyncChannel<WyomingEvent, ByteBuffer>, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                        try pipeline.addHandler(CloseWhenIdle())
                        try pipeline.addHandler(ByteToMessageHandler(WyomingFrameDecoder(limits: limits, stallTimeout: frameTimeout)))
                        return try NIOAsyncChannel<WyomingEvent, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            bound.resolve(.failure(error))
            throw VoxError(.unavailable, "Cannot listen for Wyoming on \(configuration.host):\(configuration.port): \(error).")
        }
        let port = server.channel.localAddress?.port ?? configuration.port
        bound.resolve(.success(port))
        logger.info("Wyoming listening", metadata: ["vox.address": "tcp://\(configuration.host):\(port)"])
        let announcement = configuration.zeroconf ? ZeroconfAnnouncement.start(port: port, logger: logger) : nil
        do {
            try await serve(server)
        } catch {
            await announcement?.stop()
            throw error
        }
        await announcement?.stop()
    }

    /// Accepts connections until graceful shutdown.
    private func serve(_ server: NIOAsyncChannel<NIOAsyncChannel<WyomingEvent, ByteBuffer>, Never>) async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
            let idle = self.state.withLock { state in
                state.shuttingDown = true
                return state.connections.values.filter { !$0.busy }.map(\.channel)
            }
            for channel in idle { channel.close(promise: nil) }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<WyomingEvent, ByteBuffer>) async {
        let admitted: Int? = state.withLock { state in
            guard state.connections.count < configuration.maxConnections, !state.shuttingDown else { return nil }
            state.nextID += 1
            state.connections[state.nextID] = (connection.channel, false)
            return state.nextID
        }
        defer { if let admitted { _ = state.withLock { $0.connections.removeValue(forKey: admitted) } } }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let send: @Sendable (WyomingEvent) async throws -> Void = { try await outbound.write($0.encoded()) }
                guard let id = admitted else {
                    logger.warning("Wyoming connection refused: \(configuration.maxConnections) already open")
                    try? await send(WyomingEvent(
                        type: "error",
                        encoding: ["text": "The server has \(configuration.maxConnections) Wyoming connections open; try again later.", "code": "unavailable"]))
                    return
                }
                let session = WyomingSession(
                    service: service, queue: queue, metrics: metrics, settings: settings, logger: logger, send: send)
                // On graceful shutdown an idle connection is closed from outside; a busy one ends
                // once the event it is handling (the text it is speaking) is done.
                for try await event in inbound {
                    guard mark(id, busy: true) else { break }
                    do {
                        try await session.handle(event)
                    } catch is WyomingSession.Close {
                        break
                    }
                    guard mark(id, busy: false) else { break }
                }
            }
        } catch {
            // A frame that is not Wyoming, a stalled or idle client, or a reset: the connection ends here.
            logger.debug("Wyoming connection closed", metadata: ["vox.reason": "\(error)"])
        }
    }
}

extension WyomingServer {
    /// Records whether connection `id` is handling an event; false once the server is shutting down.
    private func mark(_ id: Int, busy: Bool) -> Bool {
        state.withLock { state in
            state.connections[id]?.busy = busy
            return !state.shuttingDown
        }
    }
}

/// Closes a connection that `IdleStateHandler` reports idle.
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
