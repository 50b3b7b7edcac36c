import Foundation
import Logging
import VoxCore
import VoxOptimizer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The loop of a `voxserve worker` process: reads `speak` frames from stdin, runs them through
/// `service` one at a time, and writes the audio back as frames on stdout (see `WorkerWire`).
public struct WorkerHost: Sendable {
    let service: EngineSpeechService
    let input: FileDescriptorIO
    let output: FileDescriptorIO
    let logger: Logger

    /// Takes over the process's standard output for frames: anything else that prints to
    /// stdout afterwards (a library's stray message) goes to stderr instead of corrupting them.
    public static func claimStandardOutput() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let frames = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        return frames
    }

    public init(service: EngineSpeechService, inputFD: Int32 = STDIN_FILENO, outputFD: Int32, logger: Logger) {
        self.service = service
        self.input = FileDescriptorIO(fd: inputFD)
        self.output = FileDescriptorIO(fd: outputFD)
        self.logger = logger
    }

    /// Announces readiness, then serves until stdin closes or a `shutdown` frame arrives.
    public func run(plan: String) async throws {
        var ready = WorkerWire.Message(.ready)
        ready.pid = getpid()
        ready.plan = plan
        try await send(.init(ready))
        let input = self.input
        while true {
            guard let frame = try await offload({ try WorkerWire.decode(read: input.read) }) else { return }
            switch frame.message.type {
            case .shutdown:
                return
            case .speak:
                guard let id = frame.message.id, let request = frame.message.request else {
                    logger.error("speak frame without id or request; ignored")
                    continue
                }
                try await speak(id: id, request.synthesisRequest)
            default:
                logger.error("unexpected frame from the server; ignored", metadata: ["vox.frame": "\(frame.message.type.rawValue)"])
            }
        }
    }

    private func speak(id: UInt64, _ request: SynthesisRequest) async throws {
        var startedSent = false
        do {
            let speech = try await service.speak(request, streaming: true)
            var started = WorkerWire.Message(.started, id: id)
            started.voice = speech.voice
            started.sampleRate = speech.sampleRate
            started.plan = speech.plan
            started.warm = speech.warm
            try await send(.init(started))
            startedSent = true
            for try await chunk in speech.chunks {
                var message = WorkerWire.Message(.chunk, id: id)
                message.index = chunk.index
                message.isLast = chunk.isLast
                message.sampleRate = chunk.audio.sampleRate
                message.conditioning = chunk.conditioning
                try await send(.init(message, payload: WorkerWire.payload(chunk.audio.samples)))
            }
            var done = WorkerWire.Message(.done, id: id)
            done.cacheStats = await service.cacheCounters()
            try await send(.init(done))
        } catch let error as WorkerWire.ProtocolError {
            throw error  // the server is gone
        } catch {
            let vox = error as? VoxError ?? VoxError.engineFailure("The worker failed: \(error)")
            var failed = WorkerWire.Message(.failed, id: id)
            failed.errorKind = vox.kind
            failed.message = vox.message
            logger.debug("request failed in worker", metadata: ["vox.error": "\(vox.message)", "vox.started": "\(startedSent)"])
            try await send(.init(failed))
        }
    }

    private func send(_ frame: WorkerWire.Frame) async throws {
        let data = try WorkerWire.encode(frame)
        let output = self.output
        try await offload { try output.write(data) }
    }
}

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
/// - worker → server `started {id, voice, sampleRate, plan, warm}`: the voice resolved.
/// - worker → server `chunk {id, index, isLast, sampleRate, conditioning, payloadBytes}` + payload:
///   one piece of audio as float32 little-endian mono samples, with where its voice conditioning
///   came from (absent for a voice that needs none).
/// - worker → server `done {id, cacheStats}` after the last chunk (with the worker's conditioning
///   cache counters), or `failed {id, errorKind, message}` (`errorKind` is a `VoxError.Kind`)
///   instead of `started` or at any point after it.
/// - server → worker `shutdown`: finish and exit (closing stdin does the same).
///
/// A worker that dies shows up as end-of-file on its stdout.
public enum WorkerWire {
    static let maxHeaderBytes = 1 << 20
    static let maxPayloadBytes = 1 << 28

    public struct Message: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            case ready, speak, started, chunk, done, failed, shutdown
        }

        public var type: Kind
        public var id: UInt64?
        public var pid: Int32?
        public var request: Request?
        public var voice: String?
        public var sampleRate: Int?
        public var plan: String?
        public var warm: Bool?
        public var index: Int?
        public var isLast: Bool?
        public var conditioning: ConditioningCacheOutcome?
        public var cacheStats: ServiceStatus.Cache?
        public var payloadBytes: Int?
        public var errorKind: VoxError.Kind?
        public var message: String?

        public init(_ type: Kind, id: UInt64? = nil) {
            self.type = type
            self.id = id
        }
    }

    /// `SynthesisRequest` on the wire (a reference voice travels by name, never by bytes or path).
    public struct Request: Codable, Sendable, Equatable {
        var text: String
        var voice: String?
        var speakerID: Int?
        var lengthScale: Float?
        var noiseScale: Float?
        var noiseW: Float?
        var speed: Float
        var seed: UInt64?
        var engine: String?

        public init(_ r: SynthesisRequest) {
            text = r.text
            voice = r.voice
            speakerID = r.speakerID
            lengthScale = r.lengthScale
            noiseScale = r.noiseScale
            noiseW = r.noiseW
            speed = r.speed
            seed = r.seed
            engine = r.engine
        }

        public var synthesisRequest: SynthesisRequest {
            SynthesisRequest(
                text: text, voice: voice, speakerID: speakerID, lengthScale: lengthScale, noiseScale: noiseScale,
                noiseW: noiseW, speed: speed, seed: seed, engine: engine)
        }
    }

    public struct Frame: Sendable, Equatable {
        public var message: Message
        public var payload: Data

        public init(_ message: Message, payload: Data = Data()) {
            self.message = message
            self.payload = payload
        }
    }

    public struct ProtocolError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The bytes of one frame.
    public static func encode(_ frame: Frame) throws -> Data {
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
    public static func decode(read: (Int) throws -> Data?) throws -> Frame? {
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
    public static func payload(_ samples: [Float]) -> Data {
        var data = Data(count: samples.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (i, s) in samples.enumerated() { raw.storeBytes(of: s.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return data
    }

    public static func samples(_ payload: Data) -> [Float] {
        let count = payload.count / 4
        return payload.withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

/// Blocking whole reads and writes on a file descriptor (a pipe end).
public struct FileDescriptorIO: Sendable {
    public let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    /// Exactly `count` bytes, or nil at end of file before the first byte. End of file in the middle throws.
    public func read(_ count: Int) throws -> Data? {
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

    public func write(_ data: Data) throws {
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
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Glibc.write(fd, buffer, count) }
#elseif canImport(Darwin)
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Darwin.read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Darwin.write(fd, buffer, count) }
#endif
