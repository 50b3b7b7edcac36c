import Foundation
import VoxAudio
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer
import VoxPhonemizer
import VoxRuntime

/// The measurements behind `voxserve bench`.
struct Bench {
    static let paragraph = """
        VoxServe is a self-hosted text to speech server. It runs Piper voices on your own machine, with no network at all. \
        Doctor Smith measured it on 3 laptops in 2026! Would you believe the first sentence arrives early? \
        The optimizer plans threads, precision and caching for your hardware.
        """

    let paths: VoxPaths
    let voice: PiperVoice
    let runs: Int
    /// `--quick`: smaller workloads (a 4 s reference for the cache) so the whole run takes under a minute.
    var quick = false

    static func machine() -> String {
        let cpu = HardwareProbe().probeCPU()
        return "\(cpu.modelName), \(cpu.physicalCores) physical / \(cpu.logicalCores) logical cores"
    }

    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    }

    /// A scratch VOXSERVE_HOME, removed by the caller.
    func scratch(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-bench-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a command to completion; returns its wall time and standard output.
    @discardableResult
    func timed(_ executable: URL, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> (seconds: Double, stdout: String) {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try ProcessRunner.run(executable, arguments, stdin: stdin.map { Data($0.utf8) }, environment: environment)
        let seconds = (clock.now - start).seconds
        guard result.status == 0 else {
            throw VoxError.engineFailure("\(executable.lastPathComponent) \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stderrText.suffix(400))")
        }
        return (seconds, result.stdoutText)
    }

    var piperCLI: URL {
        get throws {
            let url = paths.depsDirectory?.appendingPathComponent("bench-venv/bin/piper")
            guard let url, FileManager.default.isExecutableFile(atPath: url.path) else {
                throw VoxError(.modelNotFound, "The benchmark's peer (Python piper-tts) is not installed: run `make bench`, or `BENCH=1 scripts/setup.sh`.")
            }
            return url
        }
    }

    // MARK: speak

    /// Whole processes, cold start included: `voxserve speak` (optimizer on and off) vs the piper CLI.
    func speak() async throws -> SpeakBench {
        let piper = try piperCLI
        let home = try scratch("speak")
        defer { try? FileManager.default.removeItem(at: home) }
        let env = ["VOXSERVE_HOME": home.path]
        let wav = home.appendingPathComponent("out.wav").path
        // One untimed run of each fills the page cache and the optimized-model cache, as a user's second call would find them.
        try timed(Self.executable, ["speak", Self.paragraph, "-o", wav], environment: env)
        try timed(piper, ["-m", voice.modelURL.path, "-f", wav], stdin: Self.paragraph)
        var vox: [Double] = [], plain: [Double] = [], peer: [Double] = []
        for _ in 0..<runs {
            vox.append(try timed(Self.executable, ["speak", Self.paragraph, "-o", wav], environment: env).seconds)
            plain.append(try timed(Self.executable, ["speak", Self.paragraph, "-o", wav, "--no-optimize"], environment: env).seconds)
            peer.append(try timed(piper, ["-m", voice.modelURL.path, "-f", wav], stdin: Self.paragraph).seconds)
        }
        let audio = try AudioDecoder().decode(contentsOf: URL(fileURLWithPath: wav))
        let result = SpeakBench(
            text: Self.paragraph, audioSeconds: audio.duration, voxserve: Stats(vox), voxserveNoOptimize: Stats(plain), piperPython: Stats(peer),
            speedupOverPiper: Stats(peer).median / Stats(vox).median, speedupOverNoOptimize: Stats(plain).median / Stats(vox).median)
        print("speak: five sentences (\(String(format: "%.1f", audio.duration)) s of audio), whole process, cold start included")
        row("voxserve speak", result.voxserve)
        row("voxserve speak --no-optimize", result.voxserveNoOptimize)
        row("piper (Python piper-tts 1.8.0)", result.piperPython)
        print(String(format: "  VoxServe vs piper: %.2fx faster; vs --no-optimize: %.2fx\n", result.speedupOverPiper, result.speedupOverNoOptimize))
        return result
    }

    // MARK: optimizer

    func optimizer() async throws -> OptimizerBench {
        let first = "The optimizer plans threads, precision and caching for your hardware."
        // Cold start to first audio: a new process each time, as a user's first request after start.
        let cachedHome = try scratch("cached")
        defer { try? FileManager.default.removeItem(at: cachedHome) }
        let wav = cachedHome.appendingPathComponent("o.wav").path
        try timed(Self.executable, ["speak", first, "-o", wav], environment: ["VOXSERVE_HOME": cachedHome.path])
        var coldPlain: [Double] = [], coldFresh: [Double] = [], coldCached: [Double] = []
        for _ in 0..<runs {
            coldPlain.append(try firstAudio(["speak", first, "-o", wav, "--no-optimize", "--timings"], home: cachedHome))
            let fresh = try scratch("fresh")
            coldFresh.append(try firstAudio(["speak", first, "-o", wav, "--timings"], home: fresh))
            try? FileManager.default.removeItem(at: fresh)
            coldCached.append(try firstAudio(["speak", first, "-o", wav, "--timings"], home: cachedHome))
        }

        // Warm synthesis: engines loaded once in this process, the paragraph synthesized repeatedly.
        let home = try scratch("warm")
        defer { try? FileManager.default.removeItem(at: home) }
        var warmPaths = paths
        warmPaths.home = home
        warmPaths.cacheDirectory = home.appendingPathComponent("cache")
        let optimized = SynthesizerFactory(configuration: RuntimeConfiguration(paths: warmPaths, optimize: true), phonemizer: EspeakPhonemizer.shared)
        let plain = SynthesizerFactory(configuration: RuntimeConfiguration(paths: warmPaths, optimize: false), phonemizer: EspeakPhonemizer.shared)
        let optimizedEngine = try await optimized.piper(voice)
        let plainEngine = try await plain.piper(voice)
        let request = SynthesisRequest(text: Self.paragraph)
        _ = try await plainEngine.synthesize(request)
        var warmPlain: [Double] = [], warmOptimized: [Double] = []
        var audioSeconds = 0.0
        let clock = ContinuousClock()
        for _ in 0..<runs {
            var start = clock.now
            audioSeconds = try await plainEngine.synthesize(request).duration
            warmPlain.append((clock.now - start).seconds)
            start = clock.now
            _ = try await optimizedEngine.synthesize(request)
            warmOptimized.append((clock.now - start).seconds)
        }
        let plan = try optimized.plan(for: voice)
        let result = OptimizerBench(
            coldFirstAudioNoOptimize: Stats(coldPlain), coldFirstAudioOptimizedNoCachedModel: Stats(coldFresh),
            coldFirstAudioOptimizedCachedModel: Stats(coldCached), warmSynthesisNoOptimize: Stats(warmPlain),
            warmSynthesisOptimized: Stats(warmOptimized), audioSeconds: audioSeconds,
            warmRTFNoOptimize: Stats(warmPlain).median / audioSeconds, warmRTFOptimized: Stats(warmOptimized).median / audioSeconds,
            plan: plan.primary?.label ?? "none")
        print("optimizer: plan \(result.plan)")
        print("  cold start to first audio (new process, one sentence)")
        row("--no-optimize", result.coldFirstAudioNoOptimize)
        row("optimized, no cached optimized model", result.coldFirstAudioOptimizedNoCachedModel)
        row("optimized, cached optimized model", result.coldFirstAudioOptimizedCachedModel)
        print(String(format: "  ratio --no-optimize / optimized (cached model): %.2fx", result.coldFirstAudioNoOptimize.median / result.coldFirstAudioOptimizedCachedModel.median))
        print(String(format: "  warm synthesis of five sentences (%.1f s of audio)", audioSeconds))
        row(String(format: "--no-optimize (RTF %.3f)", result.warmRTFNoOptimize), result.warmSynthesisNoOptimize)
        row(String(format: "optimized (RTF %.3f)", result.warmRTFOptimized), result.warmSynthesisOptimized)
        print(String(format: "  ratio: %.2fx\n", result.warmSynthesisNoOptimize.median / result.warmSynthesisOptimized.median))
        return result
    }

    private func firstAudio(_ arguments: [String], home: URL) throws -> Double {
        let (_, stdout) = try timed(Self.executable, arguments, environment: ["VOXSERVE_HOME": home.path])
        guard let timings = try? JSONDecoder().decode(SpeakTimings.self, from: Data(Self.lastLine(stdout).utf8)) else {
            throw VoxError.engineFailure("speak --timings printed no timings")
        }
        return timings.firstAudio
    }

    // MARK: cache

    /// Conditioning a 10 s reference: a miss runs the speaker encoder; hits read memory or disk.
    func cache() async throws -> ConditioningCacheBenchmarkResult {
        let home = try scratch("cache")
        defer { try? FileManager.default.removeItem(at: home) }
        // A 10 s reference spoken by the default voice itself (no file from outside).
        let engine = try PiperEngine(voice: voice, phonemizer: EspeakPhonemizer.shared, runtime: try ONNXRuntime.shared(paths: paths))
        var audio = try await engine.synthesize(SynthesisRequest(text: Self.paragraph))
        audio.samples = Array(audio.samples.prefix((quick ? 4 : 10) * audio.sampleRate))
        let reference = VoiceReference(data: try AudioEncoder().encode(audio, as: .wav), label: "bench-10s.wav")
        var scratchPaths = paths
        scratchPaths.home = home
        scratchPaths.cacheDirectory = home.appendingPathComponent("cache")
        let embedder = try SpeakerEmbedder(paths: scratchPaths)
        let key = embedder.key(for: reference)
        let result = try await ConditioningCacheBenchmark.run(
            reference: reference.data, engine: key.engine, modelFingerprint: key.modelFingerprint, parameters: key.parameters,
            scratchDirectory: home, iterations: max(runs, 5)
        ) {
            try await embedder.compute(reference)
        }
        print(String(format: "cache: speaker conditioning of a %.1f s reference (%d bytes)", audio.duration, reference.data.count))
        print("  " + pad("miss (decode, resample, encoder)") + String(format: " %8.2f ms", result.missSeconds * 1000))
        print("  " + pad("memory hit (SHA-256 of the bytes + lookup)") + String(format: " %8.3f ms  (%.0fx faster than a miss)", result.memoryHitSeconds.median * 1000, result.memoryHitSpeedup))
        print("  " + pad("disk hit (new cache instance)") + String(format: " %8.3f ms  (%.0fx faster than a miss)", result.diskHitSeconds.median * 1000, result.diskHitSpeedup))
        return result
    }

    private func row(_ label: String, _ stats: Stats) {
        print("  " + pad(label) + String(format: " median %7.3f s   min %7.3f s", stats.median, stats.min))
    }

    private func pad(_ label: String) -> String {
        label.padding(toLength: max(44, label.count), withPad: " ", startingAt: 0)
    }
}
