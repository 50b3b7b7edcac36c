import Dispatch
import Foundation

/// What a finished child process printed and how it ended.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs a program to completion and collects its output: the benchmark's runs of `voxserve` and
/// the Python peer, and the tests' runs of espeak-ng, sox and reference scripts. Both pipes are
/// drained at once, so a child that fills one cannot block on it while the other is read. Blocking:
/// from async code, call it inside `offload`.
public enum ProcessRunner {
    /// - Parameters:
    ///   - environment: variables added to (or replacing) this process's environment.
    public static func run(
        _ executable: URL, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]
    ) throws -> ProcessOutput {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let errors = Locked(Data())
        let drained = DispatchGroup()
        DispatchQueue.global().async(group: drained) {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errors.set(data)
        }
        // Written from its own thread: a child that answers while it reads (a decoder) would
        // otherwise fill the output pipe while this thread waits to write the rest of the input.
        DispatchQueue.global().async(group: drained) {
            if let stdin { try? input.fileHandleForWriting.write(contentsOf: stdin) }
            try? input.fileHandleForWriting.close()
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return ProcessOutput(status: process.terminationStatus, stdout: output, stderr: errors.get())
    }

    /// A program found on the `PATH`, through `/usr/bin/env`.
    public static func run(tool: String, _ arguments: [String], stdin: Data? = nil) throws -> ProcessOutput {
        try run(URL(fileURLWithPath: "/usr/bin/env"), [tool] + arguments, stdin: stdin)
    }
}
