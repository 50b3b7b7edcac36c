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
            chatterbox: Chatterbox (the full-size stand-in from `make chatterbox-standin`, or --chatterbox-model) beside \
            the model card's Python ONNX Runtime loop, for fp32, int8 and q4: ms per token, time to first audio, RTF, peak RSS; \
            then continuous batching through `voxserve serve` with 1, 2, 4 and 8 concurrent HTTP clients (fp32 and q4): \
            tokens/s beside the same requests one at a time, and time to first audio beside alone.
            Every run writes report.json, report.md and report.svg into --report.
            Run `make bench` to install the peer (PyPI piper-tts, pinned) and run them all.
            """
    )

    enum Part: String, ExpressibleByArgument, CaseIterable {
        case speak, optimizer, cache, chatterbox, all
    }

    @Argument(help: "Which benchmark: speak, optimizer, cache or all.")
    var part: Part = .all

    @Option(help: "Runs of each measured variant (medians are reported).")
    var runs = 5

    @Option(help: "Also write the results as JSON here.")
    var out: String?

    @Option(help: "The voice to measure.")
    var voice = VoiceCatalog.defaultVoice

    @Flag(help: "Under a minute: one run of each part, Chatterbox on the tiny test models; fails unless every figure was measured.")
    var quick = false

    @Option(help: "Where report.json, report.md and report.svg go.")
    var report = "bench-report"

    @Option(help: "Chatterbox model folder (default: .deps/chatterbox-standin, or the tiny test models with --quick).")
    var chatterboxModel: String?

    @Option(help: "Chatterbox speech tokens per run (250 are 10 s of speech).")
    var tokens: Int?

    @Option(help: "Intra-op threads for the Chatterbox comparison (both sides).")
    var threads: Int?

    @Option(name: .customLong("batch-tokens"), help: "Chatterbox batching: speech tokens per request (default 50).")
    var batchTokens: Int?

    @Flag(name: .customLong("no-batch"), help: "Skip Chatterbox's batching part (concurrent HTTP clients against `voxserve serve`).")
    var noBatch = false

    func validate() throws {
        guard (1...50).contains(runs) else { throw ValidationError("--runs must be between 1 and 50.") }
        if let tokens, !(2...2000).contains(tokens) { throw ValidationError("--tokens must be between 2 and 2000.") }
        if let batchTokens, !(2...2000).contains(batchTokens) { throw ValidationError("--batch-tokens must be between 2 and 2000.") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256.") }
    }

    func run() async throws {
        VoxServeCommand.bootstrapLogging(verbose: false)
        let paths = VoxServeCommand.environmentConfiguration().paths
        guard case .piper(let voice, _) = try await VoiceRegistry(paths: paths).resolve(self.voice) else {
            throw ValidationError("--voice must name a Piper voice: the benchmark measures Piper against its Python tooling.")
        }
        let runs = quick ? 1 : self.runs
        var bench = Bench(paths: paths, voice: voice, runs: runs)
        bench.quick = quick
        var results = BenchResults(machine: Bench.machine(), voice: voice.name, runs: runs)
        var report = BenchReport(machine: results.machine, date: ISO8601DateFormatter().string(from: Date()), quick: quick)
        print("VoxServe benchmark — \(results.machine), voice \(voice.name), \(runs) runs per variant (medians)\n")
        if part == .speak || part == .all {
            let speak = try await bench.speak()
            results.speak = speak
            report.add(speak: speak)
        }
        if part == .optimizer || part == .all {
            let optimizer = try await bench.optimizer()
            results.optimizer = optimizer
            report.add(optimizer: optimizer)
        }
        if part == .cache || part == .all {
            let cache = try await bench.cache()
            results.cache = cache
            report.add(cache: ConditioningCacheBenchmarkResultView(
                referenceSeconds: quick ? 4 : 10, miss: cache.missSeconds, memoryHits: cache.memoryHitSeconds.samples, diskHits: cache.diskHitSeconds.samples,
                memorySpeedup: cache.memoryHitSpeedup, diskSpeedup: cache.diskHitSpeedup))
        }
        if part == .chatterbox || part == .all {
            if let (directory, label) = chatterboxDirectory(paths: paths) {
                let threads = self.threads ?? max(1, HardwareProbe().probeCPU().physicalCores)
                let chatterbox = try bench.chatterbox(modelDirectory: directory, label: label, tokens: tokens ?? (quick ? 24 : 250), threads: threads)
                results.chatterbox = chatterbox
                report.add(chatterbox: chatterbox)
                if !noBatch {
                    let levels = quick ? [1, 2] : [1, 2, 4, 8]
                    let precisions = quick ? ["fp32"] : ["fp32", "q4"]
                    let batch = try bench.chatterboxBatch(
                        modelDirectory: directory, label: label, precisions: precisions, levels: levels, tokens: batchTokens ?? (quick ? 12 : 50))
                    results.chatterboxBatch = batch
                    report.add(chatterboxBatch: batch)
                }
                if let fastest = chatterbox.fastest, label != "tiny" {
                    try ChatterboxPrecisionMeasurement.save(chatterbox, paths: paths)
                    print("The CPU plan now prefers \(fastest) for Chatterbox on this machine (\(ChatterboxPrecisionMeasurement.url(paths: paths).path)).\n")
                }
            } else {
                let why = "chatterbox: no model (build the full-size stand-in with `make chatterbox-standin`, or pass --chatterbox-model)"
                print(why + "\n")
                report.skipped.append(why)
            }
        }
        let reportURL = URL(fileURLWithPath: self.report)
        try report.write(to: reportURL)
        print("Report: \(reportURL.appendingPathComponent("report.md").path) (with report.json and report.svg)")
        if let out {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: out))
            print("\nResults written to \(out)")
        }
        if quick {
            let missing = report.unmeasured + report.skipped
            guard missing.isEmpty, !report.figures.isEmpty else {
                throw ValidationError("--quick: not every figure was measured: \(missing.joined(separator: "; "))")
            }
            print("--quick: all \(report.figures.count) figures measured.")
        }
    }

    /// The Chatterbox model to measure and how to call it.
    func chatterboxDirectory(paths: VoxPaths) -> (URL, String)? {
        if let chatterboxModel { return (URL(fileURLWithPath: chatterboxModel), quick ? "tiny" : "model") }
        let deps = paths.depsDirectory
        let candidates = quick ? [("test-models/chatterbox-tiny", "tiny")] : [("chatterbox-standin", "stand-in")]
        for (path, label) in candidates {
            if let url = deps?.appendingPathComponent(path), FileManager.default.fileExists(atPath: url.appendingPathComponent("onnx").path) {
                return (url, label)
            }
        }
        return nil
    }
}

struct BenchResults: Codable {
    var machine: String
    var voice: String
    var runs: Int
    var speak: SpeakBench?
    var optimizer: OptimizerBench?
    var cache: ConditioningCacheBenchmarkResult?
    var chatterbox: ChatterboxBenchResult?
    var chatterboxBatch: ChatterboxBatchBenchResult?
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
