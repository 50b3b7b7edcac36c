import Foundation
import VoxCore

/// What `scripts/bench-chatterbox-batch.py --json` writes: continuous batching measured through
/// the server with concurrent HTTP clients, per precision and number of concurrent streams.
struct ChatterboxBatchBenchResult: Codable {
    struct Level: Codable {
        var streams: Int
        var tokensPerRequest: Int
        var batchedTokensPerSecond: Double
        var sequentialTokensPerSecond: Double
        var speedup: Double
        var batchedFirstAudioP95: Double
        var aloneFirstAudioP95: Double
        var batchedFirstAudio: [Double]
        var aloneFirstAudio: [Double]
        /// The line the script printed for this level (the format the issue asks for).
        var line: String
    }
    var label: String
    var tokens: Int
    var precisions: [String: [Level]]
}

extension Bench {
    /// Runs scripts/bench-chatterbox-batch.py against this binary's `serve` (its lines print as
    /// they come) and reads its JSON.
    func chatterboxBatch(modelDirectory: URL, label: String, precisions: [String], levels: [Int], tokens: Int) throws -> ChatterboxBatchBenchResult {
        let python = try referencePython
        let script = try Self.script("bench-chatterbox-batch.py")
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-batchbench-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: json) }
        print("chatterbox \(label) batching: \(levels.map(String.init).joined(separator: ", ")) concurrent streams through `voxserve serve`, \(tokens) tokens per request, beside the same requests one at a time")
        let (_, stdout) = try timed(python, [
            script.path, "--bin", Self.executable.path, "--model-dir", modelDirectory.path, "--label", label,
            "--precisions", precisions.joined(separator: ","), "--levels", levels.map(String.init).joined(separator: ","),
            "--tokens", "\(tokens)", "--json", json.path,
        ])
        print(stdout, terminator: stdout.hasSuffix("\n") ? "" : "\n")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ChatterboxBatchBenchResult.self, from: Data(contentsOf: json))
    }
}

extension BenchReport {
    mutating func add(chatterboxBatch b: ChatterboxBatchBenchResult) {
        for (precision, levels) in b.precisions.sorted(by: { $0.key < $1.key }) {
            let prefix = "chatterbox \(b.label) \(precision) batching"
            for l in levels {
                add("\(prefix): tokens/s at \(l.streams) streams", "batched", "tokens/s", .voxserve, [l.batchedTokensPerSecond])
                add("\(prefix): tokens/s at \(l.streams) streams", "sequential", "tokens/s", .baseline, [l.sequentialTokensPerSecond])
                add("\(prefix): time to first audio at \(l.streams) streams (s)", "batched", "s", .voxserve, l.batchedFirstAudio)
                add("\(prefix): time to first audio at \(l.streams) streams (s)", "alone", "s", .baseline, l.aloneFirstAudio)
                lines.append(l.line)
            }
        }
    }
}
