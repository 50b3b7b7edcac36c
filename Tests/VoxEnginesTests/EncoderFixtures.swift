import Foundation
import Testing
import VoxCore

/// What the speaker-encoder tests need from the machine: Resemblyzer's weights and the pinned
/// numpy venv (both installed by scripts/setup.sh), the reference script, espeak-ng and sox.
/// Each test gets its own temporary directory for clips and files.
struct EncoderFixtures {
    let weights: URL
    let python: URL
    let script: URL
    let directory: URL

    init() throws {
        let paths = VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment)
        let deps = try #require(paths.depsDirectory, "No .deps folder: run scripts/setup.sh or set VOXSERVE_DEPS.")
        weights = try #require(paths.resemblyzerWeights)
        try #require(FileManager.default.fileExists(atPath: weights.path), "Missing \(weights.path): run scripts/setup.sh.")
        python = deps.appendingPathComponent("venv/bin/python")
        try #require(FileManager.default.isExecutableFile(atPath: python.path), "Missing \(python.path): run scripts/setup.sh.")
        script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/reference_voice_encoder.py")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-encoder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func removeDirectory() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Speaks `text` with espeak-ng's `voice` and converts it to raw float32 mono 16 kHz.
    func clip(_ name: String, voice: String, text: String) throws -> (url: URL, samples: [Float]) {
        let wav = directory.appendingPathComponent("\(name).wav")
        let raw = directory.appendingPathComponent("\(name).f32")
        try Self.run(URL(fileURLWithPath: "/usr/bin/espeak-ng"), ["-v", voice, "-w", wav.path, text])
        try Self.run(URL(fileURLWithPath: "/usr/bin/sox"), [wav.path, "-r", "16000", "-c", "1", "-e", "floating-point", "-b", "32", "-t", "raw", raw.path])
        return (raw, try Self.readFloats(raw))
    }

    /// Writes samples as raw little-endian float32 (for the reference script).
    func write(_ name: String, _ samples: [Float]) throws -> URL {
        let url = directory.appendingPathComponent("\(name).f32")
        try samples.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: url)
        return url
    }

    struct Reference: Decodable {
        var embedding: [Float]
        var partials: Int
        var samples: Int
    }

    /// The numpy reference embedding of a raw float32 file.
    func reference(_ audio: URL, variant: String = "resemblyzer", normalizeVolume: Bool = false) throws -> Reference {
        var arguments = [script.path, "embed", "--weights", weights.path, "--audio", audio.path, "--variant", variant]
        if normalizeVolume { arguments.append("--normalize-volume") }
        return try JSONDecoder().decode(Reference.self, from: try Self.run(python, arguments))
    }

    struct TensorSummary: Decodable {
        var shape: [Int]
        var sum: Double
        var first: [Float]
    }

    /// Names, shapes, sums and first values of the state dict as the reference script reads it.
    func describeWeights() throws -> [String: TensorSummary] {
        try JSONDecoder().decode([String: TensorSummary].self, from: try Self.run(python, [script.path, "describe", "--weights", weights.path]))
    }

    /// Re-saves the weights as safetensors with numpy (`dtype` F32 or F16; `names` resemblyzer or chatterbox).
    func exportSafetensors(dtype: String, names: String) throws -> URL {
        let url = directory.appendingPathComponent("ve-\(dtype)-\(names).safetensors")
        try Self.run(python, [script.path, "export-safetensors", "--weights", weights.path, "--out", url.path, "--dtype", dtype, "--names", names])
        return url
    }

    @discardableResult
    static func run(_ executable: URL, _ arguments: [String]) throws -> Data {
        let result = try ProcessRunner.run(executable, arguments)
        try #require(result.status == 0, "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) failed: \(result.stderrText)")
        return result.stdout
    }

    static func readFloats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    static func norm(_ v: [Float]) -> Float {
        v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }
}
