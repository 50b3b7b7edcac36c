import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxAudio
import VoxCore
@testable import VoxServer

@Suite struct SpeechRouteTests {
    let text = "Hello there. This is a test of the speech server."

    @Test func wavBodyIsAValidWAVOfPlausibleLengthWithTimingHeaders() async throws {
        try await makeApp().test(.router) { client in
            try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["model": "piper", "input": text, "voice": "en_US-joe-medium", "response_format": "wav", "stream": false])
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "audio/wav")
                let header = try WAVHeader(response.body.data)
                #expect(header.sampleRate == 22050)
                #expect(header.channels == 1)
                #expect(header.bitsPerSample == 16)
                #expect(Int(header.dataSize) == response.body.readableBytes - 44)
                let seconds = Double(header.dataSize) / 2 / 22050
                #expect(plausibleDuration(seconds, for: text), "\(seconds) s for \(text.count) characters")
                let decoded = try AudioDecoder().decode(response.body.data, label: "response")
                #expect(!decoded.isSilent())
                let rtf = try #require(response.headers[.voxRTF].flatMap(Double.init))
                // The RTF header is the synthesis time over the audio's duration (no speed claim here:
                // a loaded machine may be slow; `voxserve bench` measures speed).
                let synthesis = try #require(response.headers[.voxSynthesisTime].flatMap(Double.init))
                #expect(rtf > 0 && abs(rtf - synthesis / seconds) < 0.01 * max(1, rtf))
                #expect(response.headers[.voxCache] == "none")
                #expect(response.headers[.voxVoice] == "en_US-joe-medium")
                #expect(response.headers[.voxPlan]?.isEmpty == false)
                #expect(response.headers[.voxAudioDuration].flatMap(Double.init).map { abs($0 - seconds) < 0.01 } == true)
            }
        }
    }

    @Test func flacBodyDecodesToTheSameLengthAsTheHeaderSays() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": text, "response_format": "flac", "stream": false]))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "audio/flac")
            #expect(response.body.readableBytesView.starts(with: Array("fLaC".utf8)))
            let audio = try AudioDecoder().decode(response.body.data, label: "flac")
            let declared = try #require(response.headers[.voxAudioDuration].flatMap(Double.init))
            #expect(abs(audio.duration - declared) < 0.01)
            #expect(plausibleDuration(audio.duration, for: text))
        }
    }

    /// Streamed (the default) and whole (`stream: false`), which encode through the same path.
    @Test(arguments: [true, false])
    func pcmBodyIsHeaderless16BitAt24kHz(stream: Bool) async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": text, "response_format": "pcm", "stream": stream]))
            if !stream { #expect(response.headers[.contentLength] == String(response.body.readableBytes)) }
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("audio/pcm") == true)
            #expect(response.headers[.voxSampleRate] == "24000")
            #expect(!response.body.readableBytesView.starts(with: Array("RIFF".utf8)))
            #expect(response.body.readableBytes % 2 == 0)
            let seconds = Double(response.body.readableBytes) / 2 / 24000
            #expect(plausibleDuration(seconds, for: text))
        }
    }

    @Test func defaultFormatIsMP3LikeOpenAIWhenThisBuildCanWriteIt() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Short.", "model": "tts-1", "voice": "alloy"]))
            #expect(response.status == .ok)
            let expected = AudioEncoder.canEncode(.mp3) ? "audio/mpeg" : "audio/wav"
            #expect(response.headers[.contentType] == expected)
            // OpenAI's voice names fall back to the default voice.
            #expect(response.headers[.voxVoice] == "en_US-joe-medium")
        }
    }

    @Test func streamingSendsAWAVWhoseConcatenationPlaysAndReportsTimeToFirstAudio() async throws {
        let text = "One sentence here. Two sentences here. Three sentences now."
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": text, "response_format": "wav", "stream": true]))
            #expect(response.status == .ok)
            #expect(response.headers[.contentLength] == nil)
            let header = try WAVHeader(response.body.data)
            #expect(header.dataSize == UInt32.max)  // open-ended stream
            let ttfa = try #require(response.headers[.voxTimeToFirstAudio].flatMap(Double.init))
            #expect(ttfa > 0)
            let audio = try AudioDecoder().decode(response.body.data, label: "stream")
            #expect(audio.sampleRate == 22050)
            #expect(plausibleDuration(audio.duration, for: text))
            #expect(!audio.isSilent())
        }
    }

    @Test func streamingPCMHasNoHeader() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders,
                body: json(["input": "First part. Second part.", "response_format": "pcm", "stream": true]))
            #expect(response.status == .ok)
            #expect(!response.body.readableBytesView.starts(with: Array("RIFF".utf8)))
            #expect(response.body.readableBytes > 24000)  // more than half a second at 24 kHz 16-bit
        }
    }

    @Test(arguments: [
        (["input": "Hello", "voice": "no-such-voice"], HTTPResponse.Status.notFound, "voice_not_found"),
        (["input": "   ", "voice": "en_US-joe-medium"], .badRequest, "invalid_input"),
        (["input": String(repeating: "a", count: SynthesisRequest.maxTextLength + 1)], .badRequest, "invalid_input"),
        (["input": "Hello", "response_format": "m4a"], .badRequest, "unsupported_response_format"),
        (["input": "Hello", "stream_format": "websocket"], .badRequest, "unsupported_stream_format"),
        (["input": "Hello", "stream_format": "sse", "stream": false], .badRequest, "unsupported_stream_format"),
        (["input": "Hello", "voice": ["name": "x"]], .badRequest, "invalid_type"),
        (["input": "Hello", "model": "chatterbox"], .badRequest, "invalid_input"),
        (["input": "Hello", "speed": 9], .badRequest, "invalid_input"),
        (["input": "Hello", "voice": "../../etc/passwd"], .badRequest, "invalid_voice_name"),
        (["input": "Hello", "model": "no-such-model"], .notFound, "model_not_found"),
        (["voice": "en_US-joe-medium"], .badRequest, "missing_field"),
        (["input": 42], .badRequest, "invalid_type"),
    ] as [([String: any Sendable], HTTPResponse.Status, String)])
    func badRequestsGetOpenAIStyleJSONErrors(body: [String: any Sendable], status: HTTPResponse.Status, code: String) async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(body))
            #expect(response.status == status)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            let error = try errorBody(response)
            #expect(error.code == code)
            #expect(!error.message.isEmpty)
            #expect(error.type == (status.code >= 500 ? "server_error" : "invalid_request_error"))
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{\"input\": \"Hello\""))
            #expect(response.status == .badRequest)
            #expect(try errorBody(response).code == "invalid_json")
        }
    }

    @Test func unknownVoiceMessageNamesTheVoiceAndTheKnownOnes() async throws {
        try await makeApp().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Hi", "voice": "nobody"]))
            let message = try errorBody(response).message
            #expect(message.contains("nobody"))
            #expect(message.contains("en_US-joe-medium"))
        }
    }
}
