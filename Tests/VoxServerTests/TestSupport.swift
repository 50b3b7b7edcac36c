import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VoxAudio
import VoxCore
import VoxEngines
import VoxRuntime
@testable import VoxServer

/// One real speech service over the default Piper voice, shared by the tests (building the
/// engine takes a second). Uploaded voices go to a temporary `VOXSERVE_HOME`.
enum Shared {
    /// Removed when the test process exits, with every `scratchHome` inside it.
    static let home: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-server-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Shared.home) }
        return url
    }()

    /// A fresh folder of its own for a test's `VOXSERVE_HOME`; each holds a 60 MB optimized model
    /// once its voice has spoken, so they live under `home` and go with it.
    static func scratchHome(_ name: String) -> URL {
        home.appendingPathComponent("\(name)-\(UUID().uuidString)")
    }

    static let paths: VoxPaths = {
        VoxPaths(home: home, depsDirectory: VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
    }()

    static let service = EngineSpeechService(configuration: RuntimeConfiguration(paths: paths), warmUpOnStart: false, logger: logger)

    static var logger: Logger {
        var logger = Logger(label: "voxserve.tests")
        logger.logLevel = .critical
        return logger
    }
}

func makeApp(_ configuration: ServerConfiguration = ServerConfiguration(), service: any SpeechService = Shared.service) throws -> some ApplicationProtocol {
    try buildApplication(configuration: configuration, service: service, logger: Shared.logger)
}

func json(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

/// The `error` object of an OpenAI-style error body.
struct ErrorBody: Decodable {
    struct Detail: Decodable {
        var message: String
        var type: String
        var code: String
    }
    var error: Detail
}

func errorBody(_ response: TestResponse) throws -> ErrorBody.Detail {
    try JSONDecoder().decode(ErrorBody.self, from: response.body.data).error
}

/// The fields of a canonical 44-byte WAV header.
struct WAVHeader {
    var sampleRate: Int
    var channels: Int
    var bitsPerSample: Int
    var dataSize: UInt32

    init(_ data: Data) throws {
        let b = [UInt8](data.prefix(44))
        try #require(b.count == 44)
        #expect(Array(b[0..<4]) == Array("RIFF".utf8))
        #expect(Array(b[8..<12]) == Array("WAVE".utf8))
        #expect(Array(b[36..<40]) == Array("data".utf8))
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func u32(_ i: Int) -> UInt32 { UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24 }
        channels = u16(22)
        sampleRate = Int(u32(24))
        bitsPerSample = u16(34)
        dataSize = u32(40)
    }
}

/// Plausible speech length for `text` at a normal pace: roughly 0.04–0.15 s per character.
func plausibleDuration(_ seconds: Double, for text: String) -> Bool {
    let n = Double(text.count)
    return seconds > n * 0.03 && seconds < n * 0.2 + 1
}

/// A test double that yields `chunks` silent-ish chunks, each after `delay`; for filling the
/// queue and running past timeouts. Real speech always comes from the real engine.
struct SlowSpeechService: SpeechService {
    var delay: Duration = .milliseconds(400)
    var chunks = 1
    /// Counts the syntheses that were cancelled before they finished.
    let cancelled = Locked(0)

    func speak(_ request: SynthesisRequest, streaming: Bool) async throws -> SpeechStream {
        let (delay, count, cancelled) = (self.delay, chunks, self.cancelled)
        let stream = AsyncThrowingStream<AudioChunk, any Error> { continuation in
            let task = Task {
                do {
                    for i in 0..<count {
                        try await Task.sleep(for: delay)
                        let tone = (0..<2205).map { Float(sin(Double($0) * 0.1) * 0.3) }
                        continuation.yield(AudioChunk(audio: AudioBuffer(samples: tone, sampleRate: 22050), index: i, isLast: i == count - 1))
                    }
                    continuation.finish()
                } catch {
                    if error is CancellationError { cancelled.withLock { $0 += 1 } }
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return SpeechStream(voice: "slow", sampleRate: 22050, plan: "test double", warm: true, chunks: stream)
    }

    func voices() async throws -> [VoiceDescription] { [VoiceDescription(id: "slow", kind: .model, engine: "test", source: .setup)] }
    func models() async throws -> [ModelDescription] { [ModelDescription(id: "test", available: true)] }
    func addVoice(name: String, audio: Data, fileName: String?, replacing: Bool) async throws -> VoiceDescription {
        throw VoxError(.unsupported, "not in the test double")
    }
    func removeVoice(id: String) async throws { throw VoxError.unknownVoice(id) }
    func status() async -> ServiceStatus { ServiceStatus(isolation: .inProcess, optimize: false, plan: "test double", defaultVoice: "slow") }
}

/// multipart/form-data body with text fields and one file.
func multipart(boundary: String = "vox-test-boundary", fields: [String: String], file: (name: String, fileName: String, data: Data)?) -> ByteBuffer {
    var body = Data()
    for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n".utf8))
    }
    if let file {
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.fileName)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
        body.append(file.data)
        body.append(Data("\r\n".utf8))
    }
    body.append(Data("--\(boundary)--\r\n".utf8))
    return ByteBuffer(bytes: body)
}

let multipartHeaders: HTTPFields = [.contentType: "multipart/form-data; boundary=vox-test-boundary"]
let jsonHeaders: HTTPFields = [.contentType: "application/json"]
