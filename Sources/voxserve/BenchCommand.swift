import ArgumentParser
import Foundation
import VoxCore
import VoxEngines
import VoxOptimizer
import VoxPhonemizer
import VoxRuntime

/// `voxserve bench`: every speed claim measured beside its baseline and its peer, in one run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure VoxServe against its baseline (--no-optimize) and its peer (Python piper-tts), in one run.",
        discussion: """
            speak: the whole `voxserve speak` process (cold start included) vs the Python piper CLI on the same voice and text.
            optimizer: cold start to first audio (with and without the cached optimized model) and warm synthesis, optimizer on vs off.
            cache: speaker conditioning of a 10 s reference on a miss, a memory hit and a disk hit.
            Run `make bench` to install the peer (PyPI piper-tts, pinned) and run them all.
            """
    )

    enum Part: String, ExpressibleByArgument, CaseIterable {
        case speak, optimizer, cache, all
    }

    @Argument(help: "Which benchmark: speak, optimizer, cache or all.")
    var part: Part = .all

    @Option(help: "Runs of each measured variant (medians are reported).")
    var runs = 5

    @Option(help: "Also write the results as JSON here.")
    var out: String?

    @Option(help: "The voice to measure.")
    var voice = VoiceCatalog.defaultVoice

    func validate() throws {
        guard (1...50).contains(runs) else { throw ValidationError("--runs must be between 1 and 50.") }
    }

    func run() async throws {
        VoxServeCommand.bootstrapLogging(verbose: false)
        let paths = VoxServeCommand.environmentConfiguration().paths
        guard case .piper(let voice, _) = try await VoiceRegistry(paths: paths).resolve(self.voice) else {
            throw ValidationError("--voice must name a Piper voice: the benchmark measures Piper against its Python tooling.")
        }
        let bench = Bench(paths: paths, voice: voice, runs: runs)
        var results = BenchResults(machine: Bench.machine(), voice: voice.name, runs: runs)
        print("VoxServe benchmark — \(results.machine), voice \(voice.name), \(runs) runs per variant (medians)\n")
        if part == .speak || part == .all { results.speak = try await bench.speak() }
        if part == .optimizer || part == .all { results.optimizer = try await bench.optimizer() }
        if part == .cache || part == .all { results.cache = try await bench.cache() }
        if let out {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: out))
            print("\nResults written to \(out)")
        }
    }
}

struct BenchResults: Codable {
    var machine: String
    var voice: String
    var runs: Int
    var speak: SpeakBench?
    var optimizer: OptimizerBench?
    var cache: ConditioningCacheBenchmarkResult?
}

struct Stats: Codable {
    var samples: [Double]
    var median: Double
    var min: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        self.samples = samples
        self.median = sorted.isEmpty ? 0 : (sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
        self.min = sorted.first ?? 0
    }
}

struct SpeakBench: Codable {
    var text: String
    var audioSeconds: Double
    var voxserve: Stats
    var voxserveNoOptimize: Stats
    var piperPython: Stats
    /// piper's median wall time over VoxServe's: above 1 means VoxServe is faster.
    var speedupOverPiper: Double
    var speedupOverNoOptimize: Double
}

struct OptimizerBench: Codable {
    var coldFirstAudioNoOptimize: Stats
    var coldFirstAudioOptimizedNoCachedModel: Stats
    var coldFirstAudioOptimizedCachedModel: Stats
    var warmSynthesisNoOptimize: Stats
    var warmSynthesisOptimized: Stats
    var audioSeconds: Double
    var warmRTFNoOptimize: Double
    var warmRTFOptimized: Double
    var plan: String
}
