import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxAudio
import VoxCore
@testable import VoxServer

/// Uploaded reference voices spoken by Chatterbox, on the tiny Chatterbox-shaped models that
/// `make test` writes, installed where a user puts the real export: `$VOXSERVE_HOME/models/chatterbox`.
@Suite struct ClonedVoiceRouteTests {
    static func service() throws -> EngineSpeechService {
        let deps = try #require(VoxPaths.fromEnvironment().depsDirectory)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-clone-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home.appendingPathComponent("models"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: home.appendingPathComponent("models/chatterbox"), withDestinationURL: deps.appendingPathComponent("test-models/chatterbox-tiny"))
        return EngineSpeechService.production(paths: VoxPaths(home: home, depsDirectory: deps), optimize: true, warmUp: false, logger: Shared.logger)
    }

    @Test func anUploadedVoiceIsSpokenByChatterboxAndItsConditioningIsCached() async throws {
        try await makeApp(service: try Self.service()).test(.router) { client in
            // A reference longer than Chatterbox's 5 s minimum, spoken by the server's own Piper voice.
            let reference = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": "This recording becomes a reference voice. It has to be longer than five seconds, so it goes on for a while.", "response_format": "wav"]))
            #expect(reference.status == .ok)
            let upload = try await client.execute(
                uri: "/v1/voices", method: .post, headers: multipartHeaders,
                body: multipart(fields: ["name": "cloned"], file: ("file", "me.wav", reference.body.data)))
            #expect(upload.status == .created)
            let list = try JSONDecoder().decode(VoicesRouteTests.VoiceList.self, from: try await client.execute(uri: "/v1/voices", method: .get).body.data)
            #expect(list.data.contains { $0.id == "cloned" && $0.available })

            let first = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": "Hello from a cloned voice.", "voice": "cloned", "response_format": "wav"]))
            #expect(first.status == .ok)
            #expect(first.headers[.voxCache] == "miss")
            let audio = try AudioDecoder().decode(first.body.data)
            #expect(audio.sampleRate == 24000 && audio.duration > 0.1)

            let second = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": "And again, from the cache.", "voice": "cloned", "response_format": "wav"]))
            #expect(second.status == .ok)
            #expect(second.headers[.voxCache] == "hit")
        }
    }
}
