import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing
import VoxCore
import VoxRuntime
@testable import VoxServer

// MARK: - Frames and the pieces of a session, without a socket

@Suite struct WyomingFrameTests {
    let limits = WyomingFrameLimits()

    @Test func anEventRoundTripsThroughItsFrame() throws {
        let event = WyomingEvent(type: "audio-chunk", encoding: AudioFormatData(rate: 22050, width: 2, channels: 1), payload: Data([1, 2, 3, 4]))
        var buffer = event.encoded()
        let line = try #require(String(data: Data(buffer.readableBytesView.prefix { $0 != UInt8(ascii: "\n") }), encoding: .utf8))
        let header = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(header["type"] as? String == "audio-chunk")
        #expect(header["version"] as? String == WyomingEvent.protocolVersion)
        #expect(header["data_length"] as? Int == event.data.count)
        #expect(header["payload_length"] as? Int == 4)
        let decoded = try #require(try WyomingFrameDecoder.parse(&buffer, limits: limits))
        #expect(decoded.type == event.type)
        #expect(try decoded.decode(AudioFormatData.self) == AudioFormatData(rate: 22050, width: 2, channels: 1))
        #expect(decoded.payload == Data([1, 2, 3, 4]))
        #expect(buffer.readableBytes == 0)
    }

    @Test func anEventWithoutDataOrPayloadIsOneLine() throws {
        var buffer = WyomingEvent(type: "synthesize-stopped").encoded()
        #expect(String(buffer: buffer) == "{\"type\":\"synthesize-stopped\",\"version\":\"\(WyomingEvent.protocolVersion)\"}\n")
        #expect(try WyomingFrameDecoder.parse(&buffer, limits: limits)?.type == "synthesize-stopped")
    }

    @Test func dataInTheHeaderLineIsMergedWithTheDataBlock() throws {
        let block = #"{"text":"from the block"}"#
        var buffer = ByteBuffer(string: #"{"type":"synthesize","data":{"text":"inline","voice":{"name":"v"}},"data_length":\#(block.utf8.count)}"# + "\n" + block)
        let event = try #require(try WyomingFrameDecoder.parse(&buffer, limits: limits))
        let data = try #require(try JSONSerialization.jsonObject(with: event.data) as? [String: Any])
        #expect(data["text"] as? String == "from the block")
        #expect((data["voice"] as? [String: Any])?["name"] as? String == "v")
    }

    @Test func aPartialFrameConsumesNothingUntilItIsWhole() throws {
        let whole = WyomingEvent(type: "synthesize", encoding: ["text": "Hello."]).encoded()
        for cut in [0, 5, whole.readableBytes - 3] {
            var partial = whole.getSlice(at: 0, length: cut)!
            #expect(try WyomingFrameDecoder.parse(&partial, limits: limits) == nil)
            #expect(partial.readableBytes == cut)
        }
        var two = whole
        var copy = whole
        two.writeBuffer(&copy)
        #expect(try WyomingFrameDecoder.parse(&two, limits: limits)?.type == "synthesize")
        #expect(try WyomingFrameDecoder.parse(&two, limits: limits)?.type == "synthesize")
        #expect(two.readableBytes == 0)
    }

    @Test(arguments: [
        "not json\n", "[1, 2]\n", #"{"data_length": 3}"# + "\n", #"{"type": ""}"# + "\n",
        #"{"type": "x", "data_length": -1}"# + "\n", #"{"type": "x", "payload_length": "ten"}"# + "\n",
        #"{"type": "x", "data_length": 1.5}"# + "\n",
    ])
    func aHeaderThatIsNotWyomingIsRejected(_ bytes: String) {
        var buffer = ByteBuffer(string: bytes)
        #expect(throws: WyomingEventError.self) { try WyomingFrameDecoder.parse(&buffer, limits: limits) }
    }

    @Test func lengthsOverTheLimitsAreRejectedBeforeAnythingIsRead() {
        let small = WyomingFrameLimits(maxHeaderBytes: 64, maxDataBytes: 100, maxPayloadBytes: 1000)
        for header in [#"{"type":"x","data_length":101}"#, #"{"type":"x","payload_length":1001}"#] {
            var buffer = ByteBuffer(string: header + "\n")
            #expect(throws: WyomingEventError.self) { try WyomingFrameDecoder.parse(&buffer, limits: small) }
        }
        var endless = ByteBuffer(string: #"{"type":""# + String(repeating: "x", count: 100))
        #expect(throws: WyomingEventError.self) { try WyomingFrameDecoder.parse(&endless, limits: small) }
    }

    @Test func eventDataOfTheWrongShapeNamesTheField() {
        let event = WyomingEvent(type: "synthesize", data: Data(#"{"text": 5}"#.utf8))
        struct Text: Decodable { var text: String }
        #expect(throws: WyomingEventError.badData("synthesize: 'text' must be text.")) { try event.decode(Text.self) }
        #expect(throws: WyomingEventError.badData("synthesize needs a 'text' field.")) {
            try WyomingEvent(type: "synthesize").decode(Text.self)
        }
    }

    @Test(arguments: [
        ("en_US", "en_US", true), ("en_US", "en-us", true), ("en_US", "en", true), ("en", "en_GB", true),
        ("en_US", "en_GB", false), ("de_DE", "en", false), ("en_US", "e", false),
    ])
    func languagesMatchByTheirFirstPart(_ voice: String, _ asked: String, _ matches: Bool) {
        #expect(WyomingSession.language(voice, matches: asked) == matches)
    }

    @Test func infoListsVoicesThatCanSpeakWithTheirSpeakersAndLanguages() {
        let info = WyomingInfo(voices: [
            VoiceDescription(id: "en_US-many", kind: .model, engine: "piper", language: "en_US", source: .user, speakers: ["ann", "bob"], description: "Two", version: "1.0.0"),
            VoiceDescription(id: "cloned", kind: .reference, engine: "chatterbox", language: "en", source: .upload, available: true),
            VoiceDescription(id: "waiting", kind: .reference, engine: "chatterbox", source: .upload, available: false),
        ], webPage: "http://127.0.0.1:8080/")
        let voices = info.tts.first?.voices ?? []
        #expect(voices.map(\.name) == ["en_US-many", "cloned"])
        #expect(voices.first?.speakers == [.init(name: "ann"), .init(name: "bob")])
        #expect(voices.first?.languages == ["en_US"])
        #expect(voices.first?.attribution == WyomingInfo.piper)
        #expect(voices.last?.attribution == WyomingInfo.chatterbox)
        #expect(info.tts.first?.supportsSynthesizeStreaming == true)
        #expect(info.tts.first?.attribution.url == "http://127.0.0.1:8080/")
    }

    @Test func aSpeakerIsChosenByNameOrNumberAndAnUnknownOneIsRefused() async throws {
        let session = WyomingSession(
            service: VoicesOnly(), queue: SynthesisQueue(maxConcurrent: 1, maxWaiting: 0), metrics: ServerMetrics(),
            settings: .init(maxTextLength: 100, requestTimeout: .seconds(5)), logger: Shared.logger, send: { _ in })
        #expect(try await session.choose(VoiceSelection(name: "en_US-many", speaker: "bob")) == .init(name: "en_US-many", speakerID: 1))
        #expect(try await session.choose(VoiceSelection(name: "en_US-many", speaker: "0")) == .init(name: "en_US-many", speakerID: 0))
        #expect(try await session.choose(VoiceSelection(language: "en")) == .init(name: "en_US-many"))
        #expect(try await session.choose(VoiceSelection(language: "de-DE")) == .init(name: "de_DE-one"))
        #expect(try await session.choose(nil) == .init())
        await #expect(throws: VoxError.self) { try await session.choose(VoiceSelection(name: "en_US-many", speaker: "carl")) }
        await #expect(throws: VoxError.self) { try await session.choose(VoiceSelection(language: "fr")) }
        await #expect(throws: APIError.self) { try await session.choose(VoiceSelection(name: "../etc/passwd")) }
    }

    /// Voices only; speaking is the live tests' business.
    struct VoicesOnly: SpeechService {
        func speak(_ request: SynthesisRequest, streaming: Bool) async throws -> SpeechStream { throw VoxError(.unsupported, "voices only") }
        func voices() async throws -> [VoiceDescription] {
            [
                VoiceDescription(id: "de_DE-one", kind: .model, engine: "piper", language: "de_DE", source: .user),
                VoiceDescription(id: "en_US-many", kind: .model, engine: "piper", language: "en_US", source: .user, speakers: ["ann", "bob"]),
            ]
        }
        func models() async throws -> [ModelDescription] { [] }
        func addVoice(name: String, audio: Data, fileName: String?, replacing: Bool) async throws -> VoiceDescription { throw VoxError(.unsupported, "no") }
        func removeVoice(id: String) async throws {}
        func status() async -> ServiceStatus { ServiceStatus(isolation: .inProcess, optimize: false, plan: "", defaultVoice: nil) }
    }
}

// MARK: - The server, driven by the `wyoming` library (Home Assistant's client)

@Suite(.serialized) struct WyomingServerTests {
    /// What the client script logged of one event (consecutive audio-chunks folded into one).
    struct Logged: Decodable {
        var type: String
        var t: Double?
        var bytes: Int?
        var count: Int?
        var format: [Int]?
        var text: String?
        var code: String?
        var mixed_format: Bool?
    }

    struct Events: Decodable {
        var events: [Logged]
        var sent: [Double]?
        var stopped_last: Bool?

        var types: [String] { events.map(\.type) }
        /// Seconds of 16-bit mono audio in the chunks at `rate`.
        func audioSeconds(rate: Int) -> Double {
            Double(events.filter { $0.type == "audio-chunk" }.map { $0.bytes ?? 0 }.reduce(0, +)) / Double(2 * rate)
        }
    }

    /// Runs scripts/wyoming_client.py with the test venv's pinned `wyoming` and decodes its JSON.
    static func client<T: Decodable>(_ type: T.Type, port: Int, _ arguments: [String]) async throws -> T {
        let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory, "VOXSERVE_DEPS is not set")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/wyoming_client.py")
        let result = try await offload {
            try ProcessRunner.run(deps.appendingPathComponent("venv/bin/python"), [script.path, "--port", String(port)] + arguments)
        }
        try #require(result.status == 0, "wyoming_client.py \(arguments.joined(separator: " ")) failed: \(result.stderrText)")
        return try JSONDecoder().decode(T.self, from: result.stdout)
    }

    /// A live server with Wyoming on a free port, for the length of `body`.
    static func withServer(
        _ configuration: ServerConfiguration = ServerConfiguration(), wyoming: WyomingConfiguration = WyomingConfiguration(port: 0),
        service: any SpeechService = Shared.service,
        _ body: @Sendable @escaping (_ wyomingPort: Int, _ httpPort: Int, _ server: WyomingServer) async throws -> Void
    ) async throws {
        var configuration = configuration
        configuration.wyoming = wyoming
        let (application, server) = try buildServer(configuration: configuration, service: service, logger: Shared.logger)
        let wyomingServer = try #require(server)
        try await application.test(.live) { client in
            try await body(try await wyomingServer.port, try #require(client.port), wyomingServer)
        }
    }

    @Test func describeListsTheInstalledVoicesInTheLibrarysOwnShape() async throws {
        struct Described: Decodable {
            struct Program: Decodable {
                struct Voice: Decodable {
                    var name: String
                    var languages: [String]
                    var speakers: [String]?
                    var attribution: String
                    var installed: Bool
                    var description: String?
                    var version: String?
                }
                var name: String
                var streaming: Bool
                var voices: [Voice]
            }
            var type: String
            var pong: String?
            var tts: [Program]
            var asr: Int
        }
        try await Self.withServer { port, _, _ in
            let info = try await Self.client(Described.self, port: port, ["describe"])
            #expect(info.type == "info")
            #expect(info.pong == "still there?")
            #expect(info.asr == 0)
            let program = try #require(info.tts.first)
            #expect(info.tts.count == 1)
            #expect(program.streaming)
            let joe = try #require(program.voices.first { $0.name == "en_US-joe-medium" })
            #expect(joe.languages == ["en_US"])
            #expect(joe.speakers == nil)
            #expect(joe.attribution == "rhasspy")
            #expect(joe.installed)
            #expect(joe.version == "1.0.0")
            #expect(joe.description?.contains("English (United States)") == true)
        }
    }

    @Test func aParagraphIsOneAudioStartChunksAndOneAudioStop() async throws {
        let text = "The weather today is mild. Tomorrow brings rain in the afternoon. Take an umbrella when you go out."
        try await Shared.service.warmUp()
        try await Self.withServer { port, _, _ in
            let result = try await Self.client(Events.self, port: port, ["synthesize", "--text", text, "--voice", "en_US-joe-medium"])
            #expect(result.types == ["audio-start", "audio-chunk", "audio-stop"])
            let start = try #require(result.events.first)
            #expect(start.format == [22050, 2, 1])
            #expect(result.events[1].format == [22050, 2, 1] && result.events[1].mixed_format == nil)
            #expect((result.events[1].count ?? 0) > 10, "audio in pieces of 1024 samples")
            #expect(plausibleDuration(result.audioSeconds(rate: 22050), for: text), "\(result.audioSeconds(rate: 22050)) s")
        }
    }

    @Test func streamedTextIsSpokenSentenceBySentenceAsEachCompletesAndOnlyOnce() async throws {
        let pieces = ["The first sente", "nce ends here. The sec", "ond one is a little longer. And a th", "ird one closes it."]
        let whole = pieces.joined()
        try await Shared.service.warmUp()
        try await Self.withServer { port, _, _ in
            let reference = try await Self.client(Events.self, port: port, ["synthesize", "--text", whole])
            let result = try await Self.client(
                Events.self, port: port,
                ["stream", "--chunks", String(decoding: try JSONEncoder().encode(pieces), as: UTF8.self), "--delay", "2.5"])
            #expect(result.stopped_last == true)
            #expect(result.types.last == "synthesize-stopped")
            let sentence = ["audio-start", "audio-chunk", "audio-stop"]
            #expect(result.types == sentence + sentence + sentence + ["synthesize-stopped"], "one audio per sentence: \(result.types)")
            let formats = Set(result.events.compactMap(\.format))
            #expect(formats == [[22050, 2, 1]], "the same format for every sentence")
            // The compatibility `synthesize` was not spoken: as much audio as the text alone, not twice as much.
            let streamed = result.audioSeconds(rate: 22050)
            let alone = reference.audioSeconds(rate: 22050)
            #expect(abs(streamed - alone) / alone < 0.25, "streamed \(streamed) s, whole \(alone) s")
            // The first sentence is spoken once the piece that completes it arrives, long before the text ends.
            let sent = try #require(result.sent)
            let firstAudio = try #require(result.events.first { $0.type == "audio-chunk" }?.t)
            #expect(firstAudio > sent[1], "no audio before the first sentence is complete")
            #expect(firstAudio < sent[3], "the first sentence waited for the whole text (\(firstAudio) s; last piece at \(sent[3]) s)")
        }
    }

    @Test func anUnknownVoiceGetsAnErrorEventThatSaysSo() async throws {
        try await Self.withServer { port, _, _ in
            let result = try await Self.client(Events.self, port: port, ["synthesize", "--voice", "no-such-voice"])
            #expect(result.types == ["error", "<closed>"])
            let error = try #require(result.events.first)
            #expect(error.code == "voice_not_found")
            #expect(error.text?.contains("Unknown voice 'no-such-voice'") == true)
            #expect(error.text?.contains("en_US-joe-medium") == true, "names the voices there are")

            let language = try await Self.client(Events.self, port: port, ["synthesize", "--language", "xx"])
            #expect(language.events.first?.text?.contains("No installed voice speaks 'xx'") == true)
        }
    }

    @Test func badFramesCloseTheConnectionAndTheServerStaysUp() async throws {
        struct Raw: Decodable {
            var closed_after: Double
            var received: Int
        }
        try await Self.withServer(wyoming: WyomingConfiguration(port: 0, frameTimeout: .seconds(1))) { port, _, server in
            for kind in ["garbage", "no-type", "oversized", "negative", "endless-header"] {
                let raw = try await Self.client(Raw.self, port: port, ["raw", "--kind", kind])
                #expect(raw.closed_after < 10, "\(kind): closed after \(raw.closed_after) s")
                #expect(raw.received == 0, "\(kind)")
            }
            let stalled = try await Self.client(Raw.self, port: port, ["raw", "--kind", "stall"])
            #expect(stalled.closed_after >= 0.9 && stalled.closed_after < 10, "a stalled frame closed after \(stalled.closed_after) s")
            let result = try await Self.client(Events.self, port: port, ["synthesize", "--text", "Still here."])
            #expect(result.types == ["audio-start", "audio-chunk", "audio-stop"])
            try await eventually { server.connectionCount == 0 }
        }
    }

    @Test func aClientThatStallsMidFrameWhileSpeakingFreesItsSynthesisSlot() async throws {
        struct Stalled: Decodable {
            var first: String
            var closed_after: Double
        }
        let slow = SlowSpeechService(delay: .milliseconds(200), chunks: 100)  // 20 s unless cut short
        try await Self.withServer(
            ServerConfiguration(maxConcurrentSyntheses: 1, maxQueuedRequests: 0),
            wyoming: WyomingConfiguration(port: 0, frameTimeout: .seconds(1)), service: slow
        ) { port, _, server in
            let stalled = try await Self.client(Stalled.self, port: port, ["stall-while-speaking", "--text", "A long one."])
            #expect(stalled.first == "audio-start")
            #expect(stalled.closed_after < 10, "closed after \(stalled.closed_after) s")
            try await eventually { slow.cancelled.get() == 1 && server.connectionCount == 0 }
            // The one slot is free again: a new request is spoken, not refused as busy.
            let next = try await Self.client(Events.self, port: port, ["synthesize", "--text", "Next."])
            #expect(next.types.first == "audio-start")
        }
    }

    @Test func connectionsBeyondTheLimitGetAnErrorAndTheOthersCarryOn() async throws {
        struct OverLimit: Decodable {
            var extra: [Logged]
            var held: String?
        }
        try await Self.withServer(wyoming: WyomingConfiguration(port: 0, maxConnections: 1)) { port, _, _ in
            let result = try await Self.client(OverLimit.self, port: port, ["over-limit"])
            #expect(result.extra.map(\.type) == ["error", "<closed>"])
            #expect(result.extra.first?.code == "unavailable")
            #expect(result.held == "info")
        }
    }

    @Test func gracefulShutdownFinishesTheTextBeingSpokenAndClosesIdleConnections() async throws {
        let slow = SlowSpeechService(delay: .milliseconds(300), chunks: 5)
        let configuration = ServerConfiguration(port: 0, wyoming: WyomingConfiguration(port: 0))
        let (application, server) = try buildServer(configuration: configuration, service: slow, logger: Shared.logger)
        let wyoming = try #require(server)
        let group = ServiceGroup(services: [application], gracefulShutdownSignals: [], cancellationSignals: [], logger: Shared.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await wyoming.port
            let idle = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
            let speaking = Task { try await Self.client(Events.self, port: port, ["synthesize", "--text", "Finish me."]) }
            try await eventually { wyoming.connectionCount == 2 }
            try await Task.sleep(for: .milliseconds(400))  // mid-synthesis
            await group.triggerGracefulShutdown()
            let spoken = try await speaking.value
            #expect(spoken.types == ["audio-start", "audio-chunk", "audio-stop"])
            #expect(spoken.audioSeconds(rate: 22050) == 0.5, "all five chunks of 0.1 s")
            try await eventually { !idle.isActive }
            try await tasks.next()
        }
        #expect(slow.cancelled.get() == 0)
        #expect(wyoming.connectionCount == 0)
    }

    @Test func httpAndWyomingAreServedAtTheSameTime() async throws {
        struct Both: Decodable {
            struct HTTP: Decodable {
                var status: Int
                var bytes: Int
            }
            var wyoming: Events
            var http: HTTP
        }
        try await Shared.service.warmUp()
        try await Self.withServer { port, httpPort, _ in
            let both = try await Self.client(Both.self, port: port, ["with-http", "--http-port", String(httpPort), "--text", "Two doors, one server."])
            #expect(both.http.status == 200)
            #expect(both.http.bytes > 44)
            #expect(both.wyoming.types == ["audio-start", "audio-chunk", "audio-stop"])
        }
    }
}

/// Waits up to `seconds` for `condition`. Generous: it returns as soon as the condition holds, and
/// on 2 busy cores a test's sleeps can stretch far past their length.
func eventually(seconds: Double = 120, _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        try #require(ContinuousClock.now < deadline, "the condition did not hold within \(seconds) s")
        try await Task.sleep(for: .milliseconds(50))
    }
}

@Suite struct ZeroconfAnnouncementTests {
    @Test func theServiceIsAnnouncedWithAvahiPublishServiceAndWithdrawnAtStop() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-avahi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = folder.appendingPathComponent("arguments")
        // A stand-in with avahi-publish-service's name: it records its arguments and stays up, as the real one does.
        let tool = folder.appendingPathComponent(ZeroconfAnnouncement.tool)
        try "#!/bin/sh\necho \"$@\" > '\(arguments.path)'\nexec sleep 120\n".write(to: tool, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tool.path)

        let announcement = try #require(ZeroconfAnnouncement.start(port: 10200, name: "VoxServe on test", searchPath: folder.path, logger: Shared.logger))
        try await eventually { FileManager.default.fileExists(atPath: arguments.path) }
        #expect(try String(contentsOf: arguments, encoding: .utf8) == "-s VoxServe on test _wyoming._tcp 10200\n")
        #expect(announcement.isRunning)
        await announcement.stop()
        #expect(!announcement.isRunning)
        // Ended by stop's signal (SIGTERM, then SIGKILL after 2 s), not by the stand-in's own end after 120 s.
        #expect(announcement.endedBySignal, "the announcement outlived the server")
    }

    @Test func withoutAvahiThereIsNoAnnouncementAndNoFailure() {
        #expect(ZeroconfAnnouncement.start(port: 10200, searchPath: "/nonexistent", logger: Shared.logger) == nil)
    }
}
