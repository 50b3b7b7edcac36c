import Foundation
import Hummingbird
import NIOCore
import NIOHTTPTypes
import VoxCore

/// Bounds the HTTP connections a server holds, so that idle or slow clients cannot exhaust its
/// file descriptors (about 1,100 idle connections used to stop all service):
/// - up to `limit` connections are served;
/// - beyond it, a connection's first request is answered at once with 503 and `Retry-After`,
///   and the connection is closed: an early answer rather than a wait;
/// - past `limit + overflow`, new connections are not accepted until others close (they wait in
///   the kernel's queue), so even a flood holds a bounded number of descriptors.
///
/// Idle connections and clients that send their headers too slowly are closed by Hummingbird's
/// idle timeout (`ServerConfiguration.idleTimeout`), which runs from the connection's start until
/// a request head has arrived, and again after each response.
///
/// Thread safety: `open` is a `Locked` counter shared by every connection's handler.
final class ConnectionLimit: Sendable {
    let limit: Int
    let retryAfterSeconds: Int
    private let open = Locked(0)

    init(limit: Int, retryAfterSeconds: Int) {
        self.limit = limit
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// Connections over `limit` that may still be accepted, to be answered 503.
    static let overflow = ServerConfiguration.connectionOverflow

    var count: Int { open.get() }

    /// Counts a connection in; true when it is within the limit.
    fileprivate func admit() -> Bool { open.withLock { $0 += 1; return $0 <= limit } }
    fileprivate func release() { open.withLock { $0 -= 1 } }

    /// A handler for one new connection (Hummingbird's `additionalChannelHandlers`).
    func handler() -> any RemovableChannelHandler { Handler(limit: self) }

    private final class Handler: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart

        let limit: ConnectionLimit
        private var counted = false
        private var refused = false

        init(limit: ConnectionLimit) { self.limit = limit }

        func handlerAdded(context: ChannelHandlerContext) {
            counted = true
            refused = !limit.admit()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            if counted { limit.release() }
            counted = false
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard refused else {
                context.fireChannelRead(data)
                return
            }
            guard case .head = unwrapInboundIn(data) else { return }  // the rest of a refused request is dropped
            let body = ByteBuffer(string: Self.body(limit: limit.limit, retryAfter: limit.retryAfterSeconds))
            var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .connection: "close"]
            headers[.retryAfter] = String(limit.retryAfterSeconds)
            headers[.contentLength] = String(body.readableBytes)
            context.write(wrapOutboundOut(.head(HTTPResponse(status: .serviceUnavailable, headerFields: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }

        static func body(limit: Int, retryAfter: Int) -> String {
            #"{"error":{"code":"too_many_connections","message":"The server has \#(limit) connections open, its limit; retry in \#(retryAfter) s.","param":null,"type":"server_error"}}"#
        }
    }
}
