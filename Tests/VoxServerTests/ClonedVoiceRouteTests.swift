import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxAudio
import VoxCore
import VoxRuntime
@testable import VoxServer

/// Uploaded reference voices spoken by Chatterbox, on the tiny Chatterbox-shaped models that
/// `make test` writes, installed where a user puts the real export: `$VOXSERVE_HOME/models/chatterbox`.
@Suite struct ClonedVoiceRouteTests {
    /// A fresh `VOXSERVE_HOME` with the tiny Chatterbox model installed, and setup's `.deps`.
    static func home() throws -> (home: URL, deps: URL) {
        let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
        let home = Shared.scratchHome("clone")
        try FileManager.default.createDirectory(at: home.appendingPathComponent("models"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: home.appendingPathComponent("models/chatterbox"), withDestinationURL: deps.appendingPathComponent("test-models/chatterbox-tiny"))
        return (home, deps)
    }

    static func service(home: URL, deps: URL) -> EngineSpeechService {
        EngineSpeechService(configuration: RuntimeConfiguration(paths: VoxPaths(home: home, depsDirectory: deps)), warmUpOnStart: false, logger: Shared.logger)
    }

    static func service() throws -> EngineSpeechService {
        let (home, deps) = try home()
        return service(home: home, deps: deps)
    }

    /// A reference recording spoken by the server's own Piper voice, `seconds` long at most.
    static func reference(_ client: some TestClientProtocol, text: String, seconds: Double? = nil) async throws -> Data {
        let response = try await client.execute(
            uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": text, "response_format": "wav"]))
        try #require(response.status == .ok)
        guard let seconds else { return response.body.data }
        var audio = try AudioDecoder().decode(response.body.data)
        audio.samples = Array(audio.samples.prefix(Int(seconds * Double(audio.sampleRate))))
        return try AudioEncoder().encode(audio, as: .wav)
    }

    static let longText = "This recording becomes a reference voice. It has to be longer than five seconds, so it goes on for a while."
    static let otherText = "A second speaker reads a different passage, long enough to clone, about the weather and the sea."

    static func upload(_ client: some TestClientProtocol, name: String, _ audio: Data) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/voices", method: .post, headers: multipartHeaders, body: multipart(fields: ["name": name], file: ("file", "\(name).wav", audio)))
    }

    static func speak(_ client: some TestClientProtocol, voice: String, _ text: String, stream: Bool = false) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
            body: json(["input": text, "voice": voice, "response_format": "wav", "stream": stream]))
    }

    @Test func anUploadedVoiceIsSpokenByChatterboxAndItsConditioningIsCached() async throws {
        try await makeApp(service: try Self.service()).test(.router) { client in
            let upload = try await Self.upload(client, name: "cloned", try await Self.reference(client, text: Self.longText))
            #expect(upload.status == .created)
            let list = try JSONDecoder().decode(VoicesRouteTests.VoiceList.self, from: try await client.execute(uri: "/v1/voices", method: .get).body.data)
            #expect(list.data.contains { $0.id == "cloned" && $0.available })

            let first = try await Self.speak(client, voice: "cloned", "Hello from a cloned voice.")
            #expect(first.status == .ok)
            #expect(first.headers[.voxCache] == "miss")
            let audio = try AudioDecoder().decode(first.body.data)
            #expect(audio.sampleRate == 24000 && audio.duration > 0.1)

            let second = try await Self.speak(client, voice: "cloned", "And again, from the cache.", stream: true)
            #expect(second.status == .ok)
            #expect(second.headers[.voxCache] == "hit")

            // The counters behind /metrics moved with those two requests: one miss, one hit.
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("voxserve_conditioning_cache_misses_total 1"), "\(metrics)")
            #expect(metrics.contains("voxserve_conditioning_cache_hits_total 1"), "\(metrics)")
            #expect(metrics.contains(#"voxserve_voice_cache_requests_total{result="miss"} 1"#))
            #expect(metrics.contains(#"voxserve_voice_cache_requests_total{result="hit"} 1"#))
        }
    }

    @Test func concurrentRequestsForTwoClonedVoicesEachGetTheirOwnOutcome() async throws {
        try await makeApp(service: try Self.service()).test(.router) { client in
            #expect(try await Self.upload(client, name: "warm", try await Self.reference(client, text: Self.longText)).status == .created)
            #expect(try await Self.upload(client, name: "cold", try await Self.reference(client, text: Self.otherText)).status == .created)
            #expect(try await Self.speak(client, voice: "warm", "Warming up.").headers[.voxCache] == "miss")
            // "warm" is cached and "cold" is not: asked at the same time, each reports its own.
            async let warm = Self.speak(client, voice: "warm", "The cached voice speaks.")
            async let cold = Self.speak(client, voice: "cold", "The new voice speaks.")
            async let warmAgain = Self.speak(client, voice: "warm", "And once more.", stream: true)
            let (w, c, w2) = try await (warm, cold, warmAgain)
            #expect(w.status == .ok && c.status == .ok && w2.status == .ok)
            #expect(w.headers[.voxCache] == "hit")
            #expect(c.headers[.voxCache] == "miss")
            #expect(w2.headers[.voxCache] == "hit")
        }
    }

    @Test func aRecordingTooShortForTheInstalledCloningEngineIsRefusedAtUpload() async throws {
        try await makeApp(service: try Self.service()).test(.router) { client in
            let short = try await Self.reference(client, text: Self.longText, seconds: 4.4)
            let upload = try await Self.upload(client, name: "short", short)
            #expect(upload.status == .badRequest)
            #expect(try errorBody(upload).code == "invalid_audio")
            #expect(try errorBody(upload).message.contains("more than 5 s"))
            let list = try JSONDecoder().decode(VoicesRouteTests.VoiceList.self, from: try await client.execute(uri: "/v1/voices", method: .get).body.data)
            #expect(!list.data.contains { $0.id == "short" })
        }
    }

    @Test func aClonedVoiceSpokenByAWorkerReportsMissThenHit() async throws {
        let (home, deps) = try Self.home()
        var environment = ProcessInfo.processInfo.environment
        environment["VOXSERVE_HOME"] = home.path
        environment["VOXSERVE_DEPS"] = deps.path
        environment["VOXSERVE_CACHE_DIR"] = nil
        environment["VOXSERVE_CHATTERBOX_DIR"] = nil
        let local = Self.service(home: home, deps: deps)
        let service = WorkerSpeechService(
            local: local, workers: 1, executable: try voxserveExecutable(), arguments: [], environment: environment, startTimeout: .seconds(90),
            logger: Shared.logger)
        let app = try makeApp(ServerConfiguration(isolation: .process, workers: 1, maxConcurrentSyntheses: 1), service: service)
        try await app.test(.router) { client in
            _ = try await waitForHealth(client) { $0.workers.first?.state == .idle }
            #expect(try await Self.upload(client, name: "remote", try await Self.reference(client, text: Self.longText)).status == .created)
            let first = try await Self.speak(client, voice: "remote", "Spoken in a worker.")
            #expect(first.status == .ok)
            #expect(first.headers[.voxCache] == "miss")
            let second = try await Self.speak(client, voice: "remote", "Spoken in a worker again.", stream: true)
            #expect(second.status == .ok)
            #expect(second.headers[.voxCache] == "hit")
            // The worker's cache counts in the server's metrics.
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("voxserve_conditioning_cache_hits_total 1"), "\(metrics)")
        }
    }
}
