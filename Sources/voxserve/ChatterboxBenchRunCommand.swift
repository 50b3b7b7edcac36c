import ArgumentParser
import Foundation
import VoxCore
import VoxEngines
import VoxONNX
import VoxPhonemizer
import VoxRuntime

/// `voxserve bench-chatterbox-run` (hidden): one process, one precision, timed streamed sentences
/// on a Chatterbox model; prints its figures as JSON. `voxserve bench chatterbox` runs it once per
/// precision and run, alternating with the reference loop, so each gets its own peak RSS.
struct ChatterboxBenchRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-chatterbox-run",
        abstract: "One Chatterbox benchmark process (used by `voxserve bench chatterbox`).",
        shouldDisplay: false
    )

    @Option(help: "The Chatterbox model folder (graphs in onnx/, tokenizer at the top).")
    var modelDir: String

    @Option(help: "Weights: fp32, int8 or q4 (each graph that ships the variant; others fp32).")
    var precision: String = "fp32"

    @Option(help: "Intra-op threads.")
    var threads = 2

    @Option(help: "Speech tokens per run (25 are a second); the stop token is ignored, so runs are comparable.")
    var tokens = 250

    @Option(help: "Timed runs after one untimed warm-up.")
    var runs = 1

    @Option(help: "Reference recording (default: the model folder's default_voice.wav).")
    var reference: String?

    @Option(help: "The sentence.")
    var text = ChatterboxBench.sentence

    @Flag(help: "Decode each chunk while the next is generated, whatever the plan says (to measure the overlap).")
    var overlap = false

    @Flag(help: "Run every prefill whole, without the cached conditioning positions `voxserve serve` keeps per voice (to measure them).")
    var noPrefixCache = false

    func run() async throws {
        VoxServeCommand.bootstrapLogging(verbose: false)
        let paths = VoxServeCommand.environmentConfiguration().paths
        guard let chosen = ModelPrecision(rawValue: precision) else { throw ValidationError("--precision must be fp32, int8 or q4.") }
        let directory = URL(fileURLWithPath: modelDir)
        let files = try ChatterboxModelFiles(directory: directory)
        var variants: [ModelComponentID: ModelPrecision] = [:]
        for component in ChatterboxModelFiles.components where files.variants(for: component).contains(chosen) {
            variants[component] = chosen
        }
        var options = ChatterboxOptions()
        // Streamed in the chunks the CPU plan chooses for this model (what `voxserve serve` does here).
        let factory = SynthesizerFactory(configuration: VoxServeCommand.environmentConfiguration(), phonemizer: EspeakPhonemizer.shared)
        if let cpu = try factory.plan(forChatterboxAt: directory).entries.first(where: { $0.provider == .cpu }) {
            if let tokens = cpu.chunking.firstChunkTokens { options.streamFirstChunkTokens = tokens }
            if let tokens = cpu.chunking.chunkTokens { options.streamChunkTokens = tokens }
            options.overlapDecoder = cpu.chunking.overlapDecoder ?? false
            options.decoderConcurrency = cpu.chunking.decoderConcurrency ?? 0
        }
        options.ignoresStopToken = true
        if overlap { options.overlapDecoder = true }
        if !noPrefixCache { options.prefixCacheBytes = SynthesizerFactory.chatterboxPrefixCacheBytes }
        let clock = ContinuousClock()
        let loadStart = clock.now
        let engine = try ChatterboxEngine(
            files: try files.selecting(variants), options: options,
            sessionOptions: SessionOptions(intraOpThreads: threads, interOpThreads: 1), runtime: try ONNXRuntime.shared(paths: paths))
        let loadSeconds = (clock.now - loadStart).seconds
        let referenceURL = reference.map { URL(fileURLWithPath: $0) } ?? directory.appendingPathComponent("default_voice.wav")
        let voice = try VoiceReference(contentsOf: referenceURL)
        // Untimed: the voice is encoded once (a voice already cloned comes from the cache) and
        // every graph has run once.
        let encodeStart = clock.now
        _ = try await engine.conditioning(for: voice)
        let encodeSeconds = (clock.now - encodeStart).seconds
        _ = try await engine.timedStream(text: text, reference: voice, seed: 1, maxNewTokens: min(tokens, 8))
        var timings: [ChatterboxStreamTiming] = []
        for run in 0..<runs {
            timings.append(try await engine.timedStream(text: text, reference: voice, seed: UInt64(run + 2), maxNewTokens: tokens))
        }
        let result = ChatterboxBenchProcessResult(
            precision: chosen.rawValue, chunks: [options.streamFirstChunkTokens, options.streamChunkTokens], variants: ChatterboxModelFiles.components.map { "\($0.rawValue)=\(engine.files.selection[$0]!.rawValue)" },
            loadSeconds: loadSeconds, encodeSeconds: encodeSeconds, runs: timings, peakRSSMiB: ChatterboxBench.peakRSSMiB())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
    }
}

/// What one benchmark process reports.
struct ChatterboxBenchProcessResult: Codable {
    var precision: String
    /// Tokens in the first streamed chunk and in later ones.
    var chunks: [Int]
    var variants: [String]
    var loadSeconds: Double
    var encodeSeconds: Double
    var runs: [ChatterboxStreamTiming]
    var peakRSSMiB: Double
}
