import Foundation
import VoxCore

/// Runs the `voxserve` executable that `swift build --build-tests` built beside the tests.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// A private `VOXSERVE_HOME` per test, so voices and caches never leak between tests.
    let home: URL

    init() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

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
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["VOXSERVE_HOME"] = home.path
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    func file(_ name: String) -> URL { home.appendingPathComponent(name) }
}
