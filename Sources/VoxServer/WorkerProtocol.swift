import Foundation
import VoxCore

/// The wire protocol between the server and its `voxserve worker` subprocesses.
///
/// Both directions carry frames over the worker's stdin (server → worker) and stdout
/// (worker → server); the worker's stderr is its log. A frame is
///
///     +----------------------+----------------------------+-------------------------------+
///     | UInt32, big-endian:  | header: UTF-8 JSON object  | payload: header.payloadBytes  |
///     | header length N      | of N bytes (WorkerMessage) | bytes (0 when absent)         |
///     +----------------------+----------------------------+-------------------------------+
///
/// Messages (`type`):
/// - worker → server `ready {pid, plan}`: the engine is loaded; requests may follow.
/// - server → worker `speak {id, request}`: synthesize one request; one at a time per worker.
/// - worker → server `started {id, voice, sampleRate, plan, cache, warm}`: the voice resolved.
/// - worker → server `chunk {id, index, isLast, sampleRate, payloadBytes}` + payload: one piece
///   of audio as float32 little-endian mono samples.
/// - worker → server `done {id}` after the last chunk, or `failed {id, errorKind, message}`
///   (`errorKind` is a `VoxError.Kind` raw value) instead of `started` or at any point after it.
/// - server → worker `shutdown`: finish and exit (closing stdin does the same).
///
/// A worker that dies shows up as end-of-file on its stdout.
enum WorkerWire {
    static let maxHeaderBytes = 1 << 20
    static let maxPayloadBytes = 1 << 28

    struct Message: Codable, Sendable, Equatable {
        enum Kind: String, Codable, Sendable {
            case ready, speak, started, chunk, done, failed, shutdown
        }

        var type: Kind
        var id: UInt64?
        var pid: Int32?
        var request: Request?
        var voice: String?
        var sampleRate: Int?
        var plan: String?
        var cache: CacheOutcome?
        var warm: Bool?
        var index: Int?
        var isLast: Bool?
        var payloadBytes: Int?
        var errorKind: String?
        var message: String?

        init(_ type: Kind, id: UInt64? = nil) {
            self.type = type
            self.id = id
        }
    }

    /// `SynthesisRequest` on the wire (a reference voice travels by name, never by bytes or path).
    struct Request: Codable, Sendable, Equatable {
        var text: String
        var voice: String?
        var speakerID: Int?
        var lengthScale: Float?
        var noiseScale: Float?
        var noiseW: Float?
        var speed: Float
        var seed: UInt64?

        init(_ r: SynthesisRequest) {
            text = r.text
            voice = r.voice
            speakerID = r.speakerID
            lengthScale = r.lengthScale
            noiseScale = r.noiseScale
            noiseW = r.noiseW
            speed = r.speed
            seed = r.seed
        }

        var synthesisRequest: SynthesisRequest {
            SynthesisRequest(
                text: text, voice: voice, speakerID: speakerID, lengthScale: lengthScale, noiseScale: noiseScale,
                noiseW: noiseW, speed: speed, seed: seed)
        }
    }

    struct Frame: Sendable, Equatable {
        var message: Message
        var payload: Data

        init(_ message: Message, payload: Data = Data()) {
            self.message = message
            self.payload = payload
        }
    }

    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    /// The bytes of one frame.
    static func encode(_ frame: Frame) throws -> Data {
        var message = frame.message
        message.payloadBytes = frame.payload.isEmpty ? nil : frame.payload.count
        let header = try JSONEncoder().encode(message)
        var data = Data(capacity: 4 + header.count + frame.payload.count)
        withUnsafeBytes(of: UInt32(header.count).bigEndian) { data.append(contentsOf: $0) }
        data.append(header)
        data.append(frame.payload)
        return data
    }

    /// Reads one frame with `read`, which returns exactly the bytes asked for, or nil at end of file.
    static func decode(read: (Int) throws -> Data?) throws -> Frame? {
        guard let lengthBytes = try read(4) else { return nil }
        let length = lengthBytes.reduce(0) { ($0 << 8) | Int($1) }
        guard length > 0 && length <= maxHeaderBytes else { throw ProtocolError(description: "frame header length \(length) is out of range") }
        guard let header = try read(length) else { throw ProtocolError(description: "end of file inside a frame header") }
        let message: Message
        do { message = try JSONDecoder().decode(Message.self, from: header) } catch {
            throw ProtocolError(description: "frame header is not a worker message: \(error)")
        }
        let payloadBytes = message.payloadBytes ?? 0
        guard payloadBytes >= 0 && payloadBytes <= maxPayloadBytes else { throw ProtocolError(description: "payload of \(payloadBytes) bytes is out of range") }
        var payload = Data()
        if payloadBytes > 0 {
            guard let bytes = try read(payloadBytes) else { throw ProtocolError(description: "end of file inside a frame payload") }
            payload = bytes
        }
        return Frame(message, payload: payload)
    }

    /// float32 little-endian samples.
    static func payload(_ samples: [Float]) -> Data {
        var data = Data(count: samples.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (i, s) in samples.enumerated() { raw.storeBytes(of: s.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return data
    }

    static func samples(_ payload: Data) -> [Float] {
        let count = payload.count / 4
        return payload.withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

/// Blocking whole reads and writes on a file descriptor (a pipe end).
struct FileDescriptorIO: Sendable {
    let fd: Int32

    /// Exactly `count` bytes, or nil at end of file before the first byte. End of file in the middle throws.
    func read(_ count: Int) throws -> Data? {
        var data = Data(count: count)
        var got = 0
        while got < count {
            let n = data.withUnsafeMutableBytes { raw in
                systemRead(fd, raw.baseAddress! + got, count - got)
            }
            if n == 0 {
                if got == 0 { return nil }
                throw WorkerWire.ProtocolError(description: "end of file after \(got) of \(count) bytes")
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw WorkerWire.ProtocolError(description: "read failed: errno \(errno)")
            }
            got += n
        }
        return data
    }

    func write(_ data: Data) throws {
        var sent = 0
        while sent < data.count {
            let n = data.withUnsafeBytes { raw in
                systemWrite(fd, raw.baseAddress! + sent, data.count - sent)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw WorkerWire.ProtocolError(description: "write failed: errno \(errno)")
            }
            sent += n
        }
    }
}

#if canImport(Glibc)
import Glibc
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Glibc.write(fd, buffer, count) }
#elseif canImport(Darwin)
import Darwin
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Darwin.read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Darwin.write(fd, buffer, count) }
#endif
