import Foundation
import NIOCore

/// One message of the Wyoming protocol, as the `wyoming` Python library (Home Assistant's)
/// frames it: a JSON header line `{"type", "version", "data_length", "payload_length"}` ending in
/// `\n`, then `data_length` bytes of JSON (the event's data), then `payload_length` bytes of
/// payload (raw audio in `audio-chunk`).
struct WyomingEvent: Sendable, Equatable {
    var type: String
    /// The event's data, a JSON object (`{}` when there is none).
    var data: Data
    var payload: Data

    /// The protocol version VoxServe writes in its headers: that of the `wyoming` library its tests
    /// run against (the library reads but does not check it).
    static let protocolVersion = "1.10.2"

    init(type: String, data: Data = Data("{}".utf8), payload: Data = Data()) {
        self.type = type
        self.data = data
        self.payload = payload
    }

    /// An event whose data is `value` encoded as JSON.
    init(type: String, encoding value: some Encodable, payload: Data = Data()) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value encoded here is a plain struct of strings, numbers and lists: it always encodes.
        self.init(type: type, data: (try? encoder.encode(value)) ?? Data("{}".utf8), payload: payload)
    }

    /// The event's data decoded as `T`; a `WyomingEventError.badData` that names the event when it
    /// does not match.
    func decode<T: Decodable>(_: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw WyomingEventError.badData("\(type) needs a '\(key.stringValue)' field.")
        } catch let DecodingError.typeMismatch(expected, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw WyomingEventError.badData("\(type): '\(field)' must be \(Self.describe(expected)).")
        } catch {
            throw WyomingEventError.badData("\(type) carries data that is not a JSON object of the expected fields.")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "text"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "an object"
        }
    }

    /// The frame on the wire.
    func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        struct Header: Encodable {
            var type: String
            var version: String
            var data_length: Int?
            var payload_length: Int?
        }
        let hasData = data.count > 2  // "{}" says nothing
        let header = Header(
            type: type, version: Self.protocolVersion, data_length: hasData ? data.count : nil,
            payload_length: payload.isEmpty ? nil : payload.count)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = (try? encoder.encode(header)) ?? Data()
        var buffer = allocator.buffer(capacity: line.count + 1 + data.count + payload.count)
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        if hasData { buffer.writeBytes(data) }
        buffer.writeBytes(payload)
        return buffer
    }
}

/// Why a connection's bytes are not Wyoming, or an event's data is not what its type needs.
enum WyomingEventError: Error, Equatable, CustomStringConvertible {
    /// The header line is not a JSON object with a string `type`, or a length is not a count.
    case malformedHeader(String)
    /// A header line, data block or payload longer than the server accepts.
    case tooLarge(String)
    /// Framed correctly, but the event's data does not fit its type. The connection stays open.
    case badData(String)

    var description: String {
        switch self {
        case .malformedHeader(let why), .tooLarge(let why), .badData(let why): why
        }
    }
}

/// Limits on what one frame may hold. A client past them is closed: a text-to-speech server has no
/// use for megabytes of event data, and reading them would let one client hold memory.
struct WyomingFrameLimits: Sendable, Equatable {
    var maxHeaderBytes = 64 * 1024
    var maxDataBytes = 1024 * 1024
    var maxPayloadBytes = 1024 * 1024
}

/// Turns a connection's bytes into `WyomingEvent`s. Data given inside the header line (older
/// clients do that) is merged with the data block, as the Python library merges them.
///
/// A client that stops in the middle of a frame for longer than `stallTimeout` is closed, so a
/// half-sent frame holds neither a connection nor memory.
final class WyomingFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = WyomingEvent

    private let limits: WyomingFrameLimits
    private let stallTimeout: TimeAmount
    private var stallTimer: Scheduled<Void>?

    init(limits: WyomingFrameLimits, stallTimeout: TimeAmount) {
        self.limits = limits
        self.stallTimeout = stallTimeout
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let event = try Self.parse(&buffer, limits: limits) else {
            if buffer.readableBytes > 0 && stallTimer == nil {
                let channel = context.channel
                stallTimer = context.eventLoop.scheduleTask(in: stallTimeout) { channel.close(promise: nil) }
            }
            return .needMoreData
        }
        stallTimer?.cancel()
        stallTimer = nil
        context.fireChannelRead(wrapInboundOut(event))
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        stallTimer?.cancel()
        stallTimer = nil
        while let event = try Self.parse(&buffer, limits: limits) {
            context.fireChannelRead(wrapInboundOut(event))
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)  // a partial frame at the end is dropped
        return .needMoreData
    }

    /// One whole frame from the front of `buffer` (consumed), or nil when more bytes are needed
    /// (nothing consumed).
    static func parse(_ buffer: inout ByteBuffer, limits: WyomingFrameLimits) throws -> WyomingEvent? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > limits.maxHeaderBytes {
                throw WyomingEventError.tooLarge("A header line longer than \(limits.maxHeaderBytes) bytes.")
            }
            return nil
        }
        let headerLength = newline - view.startIndex
        guard headerLength <= limits.maxHeaderBytes else {
            throw WyomingEventError.tooLarge("A header line longer than \(limits.maxHeaderBytes) bytes.")
        }
        let headerBytes = Data(view[view.startIndex..<newline])
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw WyomingEventError.malformedHeader("The header line is not a JSON object.")
        }
        guard let type = header["type"] as? String, !type.isEmpty else {
            throw WyomingEventError.malformedHeader("The header has no event type.")
        }
        let dataLength = try length(header["data_length"], name: "data_length", limit: limits.maxDataBytes)
        let payloadLength = try length(header["payload_length"], name: "payload_length", limit: limits.maxPayloadBytes)
        let total = headerLength + 1 + dataLength + payloadLength
        guard view.count >= total else { return nil }

        buffer.moveReaderIndex(forwardBy: headerLength + 1)
        var data = header["data"] as? [String: Any] ?? [:]
        if dataLength > 0 {
            let block = buffer.readData(length: dataLength) ?? Data()
            guard let object = (try? JSONSerialization.jsonObject(with: block)) as? [String: Any] else {
                // Framing is intact (the lengths were read), so this is the event's fault alone.
                let payload = buffer.readData(length: payloadLength) ?? Data()
                return WyomingEvent(type: type, data: Data("null".utf8), payload: payload)
            }
            data.merge(object) { _, new in new }
        }
        let payload = buffer.readData(length: payloadLength) ?? Data()
        let json = (try? JSONSerialization.data(withJSONObject: data)) ?? Data("{}".utf8)
        return WyomingEvent(type: type, data: json, payload: payload)
    }

    private static func length(_ value: Any?, name: String, limit: Int) throws -> Int {
        guard let value, !(value is NSNull) else { return 0 }
        guard let number = value as? NSNumber, let count = Int(exactly: number.doubleValue), count >= 0 else {
            throw WyomingEventError.malformedHeader("\(name) must be a whole number of bytes.")
        }
        guard count <= limit else { throw WyomingEventError.tooLarge("\(name) \(count) is over the limit of \(limit) bytes.") }
        return count
    }
}
