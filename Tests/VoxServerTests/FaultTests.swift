import Foundation
import Hummingbird
import HummingbirdTesting
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
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-fault-\(UUID().uuidString)")
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
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-fault-\(UUID().uuidString)")
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
