import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import Testing
import VoxCore
import VoxRuntime
@testable import VoxServer

/// A small tmpfs mounted on a temporary folder, for faults a root user cannot fake with file
/// permissions: a full disk, a read-only file system. Mounting needs CAP_SYS_ADMIN; where the
/// machine does not allow it, the tests that need one say so and are skipped.
struct ScratchFileSystem {
    let folder: URL

    static let canMount: Bool = {
        guard let scratch = try? ScratchFileSystem(bytes: 64 * 1024) else { return false }
        scratch.unmount()
        return true
    }()

    init(bytes: Int) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-fs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let result = try ProcessRunner.run(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", folder.path])
        guard result.status == 0 else {
            try? FileManager.default.removeItem(at: folder)
            throw VoxError.io("cannot mount a tmpfs: \(result.stderrText)")
        }
    }

    func remountReadOnly() throws {
        let result = try ProcessRunner.run(URL(fileURLWithPath: "/bin/mount"), ["-o", "remount,ro", folder.path])
        try #require(result.status == 0, "\(result.stderrText)")
    }

    /// Fills the file system, leaving no byte free.
    func fill() throws {
        let filler = folder.appendingPathComponent("filler")
        FileManager.default.createFile(atPath: filler.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filler)
        defer { try? handle.close() }
        let block = Data(repeating: 0, count: 4096)
        while (try? handle.write(contentsOf: block)) != nil {}
    }

    func unmount() {
        _ = try? ProcessRunner.run(URL(fileURLWithPath: "/bin/umount"), ["-l", folder.path])
        try? FileManager.default.removeItem(at: folder)
    }
}

/// A speech service of its own over the default voice, with `cacheDirectory` as its cache.
func serviceWithCache(at cacheDirectory: URL) -> EngineSpeechService {
    let home = Shared.scratchHome("fault")
    let paths = VoxPaths(home: home, cacheDirectory: cacheDirectory, depsDirectory: Shared.paths.depsDirectory)
    return EngineSpeechService(configuration: RuntimeConfiguration(paths: paths), warmUpOnStart: false, logger: Shared.logger)
}

@Suite(.serialized) struct FaultTests {
    struct Health: Decodable {
        var status: String
        var problems: [String]
    }

    /// Speech still comes, health says degraded with why, and the metrics count it.
    static func expectSpeechWithoutTheCache(_ service: EngineSpeechService, problem: String) async throws {
        try await makeApp(service: service).test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Still speaking.", "response_format": "wav"]))
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            #expect(response.body.readableBytes > 10_000)
            let health = try JSONDecoder().decode(Health.self, from: try await client.execute(uri: "/healthz", method: .get).body)
            #expect(health.status == "degraded")
            #expect(health.problems.contains { $0.contains(problem) }, "\(health.problems)")
            #expect(!health.problems.joined().contains("/tmp/"), "health names no paths")
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("voxserve_degraded 1"))
            #expect(metrics.contains("voxserve_cache_write_failures_total"))
        }
    }

    @Test func aCacheFolderUnderARegularFileCostsOnlyTheCache() async throws {
        let home = Shared.scratchHome("fault")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let file = home.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        try await Self.expectSpeechWithoutTheCache(serviceWithCache(at: file.appendingPathComponent("cache")), problem: "cache folder: cannot be written (Not a directory)")
    }

    @Test(.enabled(if: ScratchFileSystem.canMount, "mounting a tmpfs needs CAP_SYS_ADMIN"))
    func aReadOnlyCacheFolderCostsOnlyTheCache() async throws {
        let scratch = try ScratchFileSystem(bytes: 1024 * 1024)
        defer { scratch.unmount() }
        try scratch.remountReadOnly()
        try await Self.expectSpeechWithoutTheCache(serviceWithCache(at: scratch.folder.appendingPathComponent("cache")), problem: "Read-only file system")
    }

    @Test(.enabled(if: ScratchFileSystem.canMount, "mounting a tmpfs needs CAP_SYS_ADMIN"))
    func aFullCacheDiskCostsOnlyTheCacheAndLeavesNoTemporaryFiles() async throws {
        let scratch = try ScratchFileSystem(bytes: 256 * 1024)
        defer { scratch.unmount() }
        let cache = scratch.folder.appendingPathComponent("cache")
        try FileManager.default.createDirectory(at: cache.appendingPathComponent("optimized"), withIntermediateDirectories: true)
        try scratch.fill()
        try await Self.expectSpeechWithoutTheCache(serviceWithCache(at: cache), problem: "No space left on device")
        let left = try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("optimized").path)
        #expect(left.isEmpty, "\(left)")
    }
}

/// The voice library under faults: its index damaged, a recording deleted, a full disk.
@Suite struct VoiceLibraryFaultTests {
    struct Listed: Decodable {
        struct Voice: Decodable {
            var id: String
            var available: Bool
            var description: String?
        }
        var data: [Voice]
    }

    static func listed(_ client: some TestClientProtocol) async throws -> [Listed.Voice] {
        let response = try await client.execute(uri: "/v1/voices", method: .get)
        try #require(response.status == .ok, "\(String(buffer: response.body))")
        return try JSONDecoder().decode(Listed.self, from: response.body).data
    }

    /// A cloned voice stored, its index then cut to half its length, as a crash or a full disk
    /// during a write by another program would leave it.
    @Test func aHalfWrittenIndexIsRecoveredFromItsBackupAndTheVoiceStillSpeaks() async throws {
        let (home, deps) = try ClonedVoiceRouteTests.home()
        try await makeApp(service: ClonedVoiceRouteTests.service(home: home, deps: deps)).test(.router) { client in
            let recording = try await ClonedVoiceRouteTests.reference(client, text: ClonedVoiceRouteTests.longText)
            #expect(try await ClonedVoiceRouteTests.upload(client, name: "kept", recording).status == .created)
            let index = home.appendingPathComponent("voices/index.json")
            let whole = try Data(contentsOf: index)
            try whole.prefix(whole.count / 2).write(to: index)

            let voices = try await Self.listed(client)
            #expect(voices.contains { $0.id == "kept" && $0.available }, "\(voices.map(\.id))")
            #expect(try await ClonedVoiceRouteTests.speak(client, voice: "kept", "Still here after the damage.").status == .ok)
            // The index is whole again, and the damaged one was kept aside for a person to look at.
            #expect(try Data(contentsOf: index) == whole)
            let names = try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("voices").path)
            #expect(names.contains { $0.hasPrefix("index.json.unreadable-") }, "\(names)")
        }
    }

    @Test func anIndexAndBackupBothUnreadableAreRebuiltFromTheRecordings() async throws {
        let (home, deps) = try ClonedVoiceRouteTests.home()
        try await makeApp(service: ClonedVoiceRouteTests.service(home: home, deps: deps)).test(.router) { client in
            let recording = try await ClonedVoiceRouteTests.reference(client, text: ClonedVoiceRouteTests.longText)
            #expect(try await ClonedVoiceRouteTests.upload(client, name: "lost-name", recording).status == .created)
            for name in ["index.json", "index.json.bak"] {
                try Data("{\"version\": 1, \"voi".utf8).write(to: home.appendingPathComponent("voices/\(name)"))
            }
            let voices = try await Self.listed(client)
            let recovered = try #require(voices.first { $0.id.hasPrefix("recovered-") }, "\(voices.map(\.id))")
            #expect(recovered.available)
            #expect(try await ClonedVoiceRouteTests.speak(client, voice: recovered.id, "Spoken under its recovered name.").status == .ok)
        }
    }

    @Test func aRecordingDeletedUnderARunningServerIsListedUnavailableAndAnswered410() async throws {
        let (home, deps) = try ClonedVoiceRouteTests.home()
        try await makeApp(service: ClonedVoiceRouteTests.service(home: home, deps: deps)).test(.router) { client in
            let recording = try await ClonedVoiceRouteTests.reference(client, text: ClonedVoiceRouteTests.longText)
            #expect(try await ClonedVoiceRouteTests.upload(client, name: "fragile", recording).status == .created)
            let references = home.appendingPathComponent("voices/references")
            for file in try FileManager.default.contentsOfDirectory(atPath: references.path) {
                try FileManager.default.removeItem(at: references.appendingPathComponent(file))
            }
            let voice = try #require(try await Self.listed(client).first { $0.id == "fragile" })
            #expect(!voice.available)
            #expect(voice.description?.contains("recording is missing") == true)

            let response = try await ClonedVoiceRouteTests.speak(client, voice: "fragile", "Where did it go?")
            #expect(response.status == .gone)
            let error = try errorBody(response)
            #expect(error.code == "voice_unavailable")
            #expect(error.message.contains("Remove the voice and add it again"))
            #expect(!error.message.contains(home.path))
            // Removing it works, and the name is free again.
            #expect(try await client.execute(uri: "/v1/voices/fragile", method: .delete).status == .ok)
            #expect(try await ClonedVoiceRouteTests.upload(client, name: "fragile", recording).status == .created)
        }
    }

    @Test(.enabled(if: ScratchFileSystem.canMount, "mounting a tmpfs needs CAP_SYS_ADMIN"))
    func anUploadToAFullDiskIs507AndLeavesNoRecordingBehind() async throws {
        let scratch = try ScratchFileSystem(bytes: 512 * 1024)
        defer { scratch.unmount() }
        let deps = try #require(Shared.paths.depsDirectory)
        let service = EngineSpeechService(
            configuration: RuntimeConfiguration(paths: VoxPaths(home: scratch.folder, depsDirectory: deps)), warmUpOnStart: false, logger: Shared.logger)
        try await makeApp(service: service).test(.router) { client in
            let recording = try await ClonedVoiceRouteTests.reference(client, text: ClonedVoiceRouteTests.longText)
            #expect(try await ClonedVoiceRouteTests.upload(client, name: "first", recording).status == .created)
            try scratch.fill()
            let response = try await ClonedVoiceRouteTests.upload(client, name: "second", recording + Data([0, 0]))
            #expect(response.status.code == 507, "\(String(buffer: response.body))")
            let error = try errorBody(response)
            #expect(error.code == "insufficient_storage")
            #expect(error.message.contains("disk is full"))
            let stored = try FileManager.default.contentsOfDirectory(atPath: scratch.folder.appendingPathComponent("voices/references").path)
            #expect(stored.count == 1, "only the first voice's recording: \(stored)")
            #expect(try await Self.listed(client).map(\.id).contains("first"))
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }
}

/// SIGTERM's path (ServiceLifecycle's graceful shutdown, which `voxserve serve` runs on SIGTERM
/// and SIGINT): requests in flight finish, new connections are refused.
@Suite struct GracefulShutdownTests {
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        guard let fd = RawHTTPClient.connectLoopback(port: port) else { return false }
        close(fd)
        return true
    }

    @Test func requestsInFlightFinishAndNewConnectionsAreRefused() async throws {
        let slow = SlowSpeechService(delay: .milliseconds(300), chunks: 5)
        let port = try Self.freePort()
        let application = try makeApp(ServerConfiguration(port: port), service: slow)
        let group = ServiceGroup(services: [application], gracefulShutdownSignals: [], cancellationSignals: [], logger: Shared.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { Self.canConnect(port: port) }
            let inFlight = Task {
                try await offloadBlocking {
                    try RawHTTPClient.post(port: port, path: "/v1/audio/speech", body: Data(#"{"input": "Finish me.", "response_format": "pcm", "stream": true}"#.utf8))
                }
            }
            try await Task.sleep(for: .milliseconds(500))  // its first chunks are out
            await group.triggerGracefulShutdown()
            let finished = try await inFlight.value
            #expect(finished.status == 200)
            #expect(finished.chunks.count == 5, "all five chunks, not \(finished.chunks.count)")
            try await tasks.next()
            #expect(!Self.canConnect(port: port), "a new connection after shutdown")
        }
        #expect(slow.cancelled.get() == 0)
    }
}
