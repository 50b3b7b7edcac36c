import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxRuntime
@testable import VoxServer

@Suite struct VoicesRouteTests {
    struct VoiceList: Decodable {
        var object: String
        var data: [VoiceDescription]
    }

    @Test func listsTheDefaultPiperVoice() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(uri: "/v1/voices", method: .get)
            #expect(response.status == .ok)
            let list = try JSONDecoder().decode(VoiceList.self, from: response.body.data)
            #expect(list.object == "list")
            let joe = try #require(list.data.first { $0.id == "en_US-joe-medium" })
            #expect(joe.kind == .model)
            #expect(joe.isDefault)
            #expect(joe.sampleRate == 22050)
        }
    }

    @Test func uploadOfANonAudioFileIs400() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/voices", method: .post, headers: multipartHeaders,
                body: multipart(fields: ["name": "notaudio"], file: ("file", "notes.wav", Data("this is not audio at all, just text".utf8))))
            #expect(response.status == .badRequest)
            #expect(try errorBody(response).code == "invalid_audio")
        }
    }

    @Test(arguments: ["../../etc/passwd", ".hidden", "a/b", "x..y", String(repeating: "n", count: 65), "naïve"])
    func hostileVoiceNamesAre400(name: String) async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/voices", method: .post, headers: multipartHeaders,
                body: multipart(fields: ["name": name], file: ("file", "a.wav", Data(count: 100))))
            #expect(response.status == .badRequest)
            #expect(try errorBody(response).code == "invalid_voice_name")
        }
        #expect(!FileManager.default.fileExists(atPath: Shared.home.appendingPathComponent("etc").path))
    }

    @Test func uploadWithoutMultipartIs400() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(uri: "/v1/voices", method: .post, headers: jsonHeaders, body: json(["name": "x"]))
            #expect(response.status == .badRequest)
            #expect(try errorBody(response).code == "invalid_content_type")
        }
    }

    @Test func uploadLargerThanTheLimitIs413() async throws {
        let config = ServerConfiguration(maxUploadBytes: 4096)
        try await makeApp(config).test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/voices", method: .post, headers: multipartHeaders,
                body: multipart(fields: ["name": "big"], file: ("file", "big.wav", Data(count: 10_000))))
            #expect(response.status == .contentTooLarge)
            #expect(try errorBody(response).code == "payload_too_large")
        }
    }

    @Test func deleteOfAnUnknownVoiceIs404AndOfAPathLikeIdIs400() async throws {
        try await makeApp().test(.router) { client in
            let unknown = try await client.execute(uri: "/v1/voices/nobody-here", method: .delete)
            #expect(unknown.status == .notFound)
            #expect(try errorBody(unknown).code == "voice_not_found")
            let hostile = try await client.execute(uri: "/v1/voices/..%2F..%2Findex.json", method: .delete)
            #expect(hostile.status == .badRequest)
            let model = try await client.execute(uri: "/v1/voices/en_US-joe-medium", method: .delete)
            #expect(model.status == .conflict)
        }
    }

    @Test func aRealRecordingUploadsListsAndDeletes() async throws {
        let name = "ref-\(UInt32.random(in: 0...UInt32.max))"
        try await makeApp().test(.router) { client in
            // A real recording: two seconds of speech from the server itself.
            let speech = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": "This recording becomes a reference voice for the test.", "response_format": "wav"]))
            #expect(speech.status == .ok)
            let upload = try await client.execute(
                uri: "/v1/voices", method: .post, headers: multipartHeaders,
                body: multipart(fields: ["name": name], file: ("file", "me.wav", speech.body.data)))
            #expect(upload.status == .created)
            let added = try JSONDecoder().decode(VoiceDescription.self, from: upload.body.data)
            #expect(added.id == name)
            #expect(added.kind == .reference)
            // Stored, and listed as not speakable until the cloning model is installed.
            #expect(added.available == false)
            #expect(added.description?.contains("Chatterbox") == true)

            let again = try await client.execute(
                uri: "/v1/voices", method: .post, headers: multipartHeaders,
                body: multipart(fields: ["name": name], file: ("file", "me.wav", speech.body.data)))
            #expect(again.status == .conflict)

            let list = try JSONDecoder().decode(VoiceList.self, from: try await client.execute(uri: "/v1/voices", method: .get).body.data)
            #expect(list.data.contains { $0.id == name && $0.kind == .reference })

            // Speaking it needs the cloning engine, which says so instead of pretending: a 4xx
            // (the OpenAI SDKs retry 5xx) that names what to install.
            let speak = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Hi", "voice": name]))
            #expect(speak.status == .unprocessableContent)
            let refusal = try errorBody(speak)
            #expect(refusal.code == "engine_not_installed")
            #expect(refusal.message.contains("Chatterbox"))

            let delete = try await client.execute(uri: "/v1/voices/\(name)", method: .delete)
            #expect(delete.status == .ok)
            let gone = try await client.execute(uri: "/v1/voices/\(name)", method: .delete)
            #expect(gone.status == .notFound)
        }
    }
}
