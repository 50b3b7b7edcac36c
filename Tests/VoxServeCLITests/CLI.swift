import Foundation
import VoxCore

/// Runs the `voxserve` executable that `swift build --build-tests` built beside the tests.
final class CLI: Sendable {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// A private `VOXSERVE_HOME` per test, so voices and caches never leak between tests. It goes
    /// with the test: each holds a 60 MB optimized model once the voice has spoken.
    let home: URL

    init() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: home) }

    static var executable: URL {
        // Tests run from .build/<config>/VoxServePackageTests.xctest; the binary sits beside it.
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("voxserve")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/voxserve")
    }

    /// Runs the binary on a Dispatch thread: a test that waits for a process must not hold one of
    /// Swift's few cooperative threads (on 2 cores there are 2), or every async test stalls with it.
    func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> Result {
        let home = self.home
        return try await offload { try Self.runBlocking(arguments, stdin: stdin, environment: environment, home: home) }
    }

    private static func runBlocking(_ arguments: [String], stdin: String?, environment: [String: String], home: URL) throws -> Result {
        let output = try ProcessRunner.run(
            executable, arguments, stdin: Data((stdin ?? "").utf8), environment: ["VOXSERVE_HOME": home.path].merging(environment) { $1 })
        return Result(status: output.status, stdout: output.stdoutText, stderr: output.stderrText)
    }

    func file(_ name: String) -> URL { home.appendingPathComponent(name) }
}

/// Speech from espeak-ng into `url` (a reference recording for the voice tests).
func espeak(_ text: String, voice: String = "en-us", wordsPerMinute: Int = 175, to url: URL) throws {
    let result = try ProcessRunner.run(tool: "espeak-ng", ["-v", voice, "-s", String(wordsPerMinute), "-w", url.path, text])
    guard result.status == 0 else { throw VoxError.io("espeak-ng failed: \(result.stderrText)") }
}
