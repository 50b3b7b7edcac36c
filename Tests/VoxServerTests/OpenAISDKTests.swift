import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxCore
@testable import VoxServer

/// The official OpenAI Python SDK (pinned in the test venv: `openai==3.57.0`) against a live
/// server, every call as the SDK's documentation makes it. `scripts/openai_sdk_check.py` makes the
/// calls and reports what came back, decoded by Debian's ffmpeg; the thresholds are judged here.
@Suite(.serialized) struct OpenAISDKTests {
    struct Call: Decodable {
        var status: Int?
        var error: String?
        var code: String?
        var seconds: Double?
        var codec: String?
        var bytes: Int?
        var ttfb: Double?
        var total: Double?
        var chunked: Bool?
        var deltas: Int?
        var usage: [String: Int]?
        var content_type: String?
        var voice: String?
        var ignored: String?
        var id: String?
        var name: String?
        var object: String?
        var type: String?
        var deleted: Bool?
        var ids: [String]?
        var voices: [[String: String]]?
    }

    /// One run of the script for the whole suite (about 30 calls, 15 s on 2 cores).
    static let report: Task<[String: Call], any Error> = Task {
        let key = "sdk-test-key"
        var configuration = ServerConfiguration()
        configuration.apiKey = key
        let app = try makeApp(configuration)
        return try await app.test(.live) { client in
            let port = try #require(client.port)
            let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory, "VOXSERVE_DEPS is not set")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("scripts/openai_sdk_check.py")
            let result = try await offload {
                try ProcessRunner.run(
                    deps.appendingPathComponent("venv/bin/python"),
                    [script.path, "--base-url", "http://127.0.0.1:\(port)/v1", "--api-key", key])
            }
            try #require(result.status == 0, "openai_sdk_check.py failed: \(result.stderrText)")
            return try JSONDecoder().decode([String: Call].self, from: result.stdout)
        }
    }

    func call(_ name: String) async throws -> Call {
        let report = try await Self.report.value
        return try #require(report[name], "the script made no call named \(name)")
    }

    /// A call that answered 200 with audio ffmpeg could decode.
    func audio(_ name: String) async throws -> Call {
        let call = try await call(name)
        #expect(call.status == 200, "\(name): \(call.error ?? "no error text")")
        #expect((call.seconds ?? 0) > 0.2, "\(name) decoded to \(call.seconds ?? 0) s")
        return call
    }

    @Test func theDefaultCallAnswersMP3() async throws {
        let call = try await audio("default")
        #expect(call.codec == "mp3")
    }

    /// Every format decodes (by ffmpeg) to the length of the same still audio as a whole WAV file:
    /// within 10 ms, plus the priming and padding MP3 and AAC add (up to two 1152/1024-sample frames).
    @Test(arguments: [("mp3", "mp3"), ("opus", "opus"), ("aac", "aac"), ("flac", "flac"), ("wav", "pcm_s16le"), ("pcm", "pcm_s16le")])
    func everyFormatDecodesToTheSameLength(format: String, codec: String) async throws {
        let reference = try #require(try await audio("reference").seconds)
        let call = try await audio("format_\(format)")
        #expect(call.codec == codec)
        let slacks: [String: Double] = ["mp3": 2 * 1152.0 / 22050, "aac": 2 * 1024.0 / 22050]
        let slack = slacks[format] ?? 0
        let seconds = call.seconds ?? 0
        #expect(abs(seconds - reference) <= slack + 0.01, "\(format): \(call.seconds ?? 0) s vs \(reference) s")
    }

    /// Five sentences with `with_streaming_response`: the first byte comes before half the time the
    /// whole takes, in a chunked response.
    @Test(arguments: ["mp3", "wav", "pcm"])
    func streamingSendsTheFirstAudioEarly(format: String) async throws {
        let call = try await audio("stream_\(format)")
        let ttfb = try #require(call.ttfb), total = try #require(call.total)
        #expect(ttfb < total / 2, "\(format): first byte after \(ttfb) s of \(total) s")
        #expect(call.chunked == true)
        #expect((call.seconds ?? 0) > 6, "five sentences decoded to \(call.seconds ?? 0) s")
    }

    @Test(arguments: ["pcm", "mp3"])
    func serverSentEventsCarryDeltasThenDoneWithUsage(format: String) async throws {
        let call = try await audio("sse_\(format)")
        #expect(call.content_type?.hasPrefix("text/event-stream") == true)
        #expect(call.deltas == 5, "one delta per sentence")
        let usage = try #require(call.usage)
        #expect(usage["input_tokens"].map { $0 > 0 } == true)
        #expect(usage["total_tokens"] == (usage["input_tokens"] ?? 0) + (usage["output_tokens"] ?? 0))
    }

    @Test func voicesByObjectAndEveryOpenAIName() async throws {
        _ = try await audio("voice_object")
        for name in ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"] {
            let call = try await audio("voice_\(name)")
            #expect(call.voice == "en_US-joe-medium", "\(name) is spoken by \(call.voice ?? "nobody")")
        }
    }

    @Test func openAIModelsAndInstructionsAreAccepted() async throws {
        for model in ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"] {
            _ = try await audio("model_\(model)")
        }
        #expect(try await audio("instructions").ignored == "instructions")
        #expect(try await call("models_retrieve").id == "tts-1")
        let ids = try #require(try await call("models_list").ids)
        #expect(ids.contains("piper") && ids.contains("tts-1") && ids.contains("gpt-4o-mini-tts-2025-12-15"))
    }

    /// Duration is 1/speed of the natural one, within 5 %.
    @Test(arguments: [0.5, 2, 4])
    func speedScalesDuration(speed: Double) async throws {
        let reference = try #require(try await audio("reference").seconds)
        let name = speed == 0.5 ? "speed_0.5" : "speed_\(Int(speed))"
        let seconds = try #require(try await audio(name).seconds)
        let ratio = seconds / (reference / speed)
        #expect(abs(ratio - 1) < 0.05, "speed \(speed): \(seconds) s, expected \(reference / speed) s")
    }

    @Test func refusalsAreFourHundredsTheSDKDoesNotRetry() async throws {
        let mismatch = try await call("model_engine_mismatch")
        #expect(mismatch.status == 400)
        #expect(mismatch.error?.contains("cannot speak") == true)
        let large = try await call("too_large")
        #expect(large.status == 413)
        #expect(large.code == "payload_too_large")
        let wrong = try await call("wrong_key")
        #expect(wrong.status == 401)
    }

    /// OpenAI's custom-voice calls: created from a sample (stored, not speakable without the
    /// cloning model, which says so with a 422), listed only when speakable, deleted.
    @Test func customVoicesCreateListSpeakDelete() async throws {
        let created = try await call("voices_create")
        #expect(created.status == 200, "\(created.error ?? "")")
        #expect(created.id == "sdk-voice" && created.object == "audio.voice" && created.type == "audio_sample")
        let listed = try #require(try await call("voices_list").voices)
        #expect(listed.contains { $0["id"] == "en_US-joe-medium" && $0["name"] != nil })
        #expect(!listed.contains { $0["id"] == "sdk-voice" }, "a voice that cannot speak is not offered")
        let speak = try await call("speak_uploaded")
        #expect(speak.status == 422)
        #expect(speak.code == "engine_not_installed")
        #expect(speak.error?.contains("Chatterbox") == true)
        let deleted = try await call("voices_delete")
        #expect(deleted.deleted == true && deleted.object == "audio.voice.deleted")
    }

    @Test func otherBaseURLsAndTheAsyncClient() async throws {
        #expect(try await audio("no_v1_prefix").codec == "mp3")
        #expect(try await audio("async_stream").codec == "opus")
    }
}
