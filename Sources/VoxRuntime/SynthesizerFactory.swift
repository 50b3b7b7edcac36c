import Foundation
import Logging
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// Builds synthesizers for voices, the one place where the engines, the optimizer's plan and
/// ONNX Runtime meet. The CLI, the server, its workers and the benchmark all get their engines here.
public final class SynthesizerFactory: Sendable {
    public let configuration: RuntimeConfiguration
    public let phonemizer: any Phonemizer
    private let logger: Logger
    private let hardwareReport = Locked<HardwareReport?>(nil)
    private let prefersGPU = Locked<Bool?>(nil)
    /// Conditioning computed by cloning engines (memory + `paths.cacheDirectory`, or memory + a
    /// fleet's shared store), shared by every engine this factory builds: it is their
    /// `SpeakerConditioningStore`.
    public let conditioningCache: ConditioningCache
    /// What the caches (and a fleet's shared store) could not do; the engines work without them.
    public let cacheHealth: CacheHealth

    /// - Parameters:
    ///   - sharedConditioningStore: the persistent tier behind the memory tier instead of the cache
    ///     folder (a fleet's PostgreSQL store).
    ///   - health: where problems are reported (shared with a fleet's store).
    public init(
        configuration: RuntimeConfiguration, phonemizer: any Phonemizer, logger: Logger = Logger(label: "vox.factory"),
        sharedConditioningStore: (any ConditioningStore)? = nil, health: CacheHealth = CacheHealth()
    ) {
        self.configuration = configuration
        self.phonemizer = phonemizer
        self.logger = logger
        self.cacheHealth = health
        if let sharedConditioningStore {
            self.conditioningCache = ConditioningCache(store: sharedConditioningStore, logger: logger)
        } else {
            self.conditioningCache = ConditioningCache(
                configuration: ConditioningCacheConfiguration(directory: configuration.paths.cacheDirectory), logger: logger)
        }
        if let problem = CacheHealth.writeProblem(in: configuration.paths.cacheDirectory) {
            cacheHealth.report("cache folder", "cannot be written (\(problem)); voices are spoken without the cache")
            logger.warning(
                "the cache folder cannot be written; speaking without the cache",
                metadata: ["vox.path": "\(configuration.paths.cacheDirectory.path)", "vox.error": "\(problem)"])
        }
    }

    public var paths: VoxPaths { configuration.paths }

    /// Where optimized graphs are saved and reused (`OptimizedModelFile`): `$VOXSERVE_CACHE_DIR/optimized`.
    public var optimizedModelDirectory: URL { paths.cacheDirectory.appendingPathComponent("optimized") }

    /// Whether setup installed the GPU build of ONNX Runtime.
    public var gpuRuntimeInstalled: Bool {
        guard let gpu = paths.gpuRuntimeLibrary else { return false }
        return FileManager.default.fileExists(atPath: gpu.path)
    }

    /// The runtime this process uses: the GPU build when it is installed and NVML sees a GPU.
    public func runtime() throws -> ONNXRuntime {
        // NVML is asked once per factory, not on every engine build.
        let preferGPU = prefersGPU.withLock { cached in
            if let cached { return cached }
            let decided = gpuRuntimeInstalled && !HardwareProbe().probeGPU().devices.isEmpty
            cached = decided
            return decided
        }
        do {
            return try ONNXRuntime.shared(preferGPU: preferGPU, paths: paths)
        } catch let error as ONNXRuntimeError {
            throw error.voxError
        }
    }

    /// The probe, with the providers of the runtime that is loaded (computed once).
    public func hardware() throws -> HardwareReport {
        let runtime = try runtime()
        return hardwareReport.withLock { report in
            if let report { return report }
            let probed = HardwareProbe().probe(onnxRuntimeProviders: runtime.availableProviders())
            report = probed
            return probed
        }
    }

    /// What the installed GPU build can run on: its CUDA major version and the architectures setup
    /// read from its CUDA provider (`cuda-architectures.txt`); without that file, only the minimum
    /// compute capability is known.
    public var gpuBuild: ONNXRuntimeGPUBuild {
        var build = ONNXRuntimeGPUBuild.cuda13
        if let library = paths.gpuRuntimeLibrary {
            let file = library.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(ONNXRuntimeGPUBuild.architecturesFileName)
            if let text = try? String(contentsOf: file, encoding: .utf8) {
                let architectures = ONNXRuntimeGPUBuild.parseArchitectures(text)
                if !architectures.isEmpty { build.architectures = architectures }
            }
        }
        return build
    }

    // MARK: Piper

    /// What Piper needs planned: one graph, fp32 only, dynamic shapes (no CUDA graphs), independent sentences.
    public static func inventory(for voice: PiperVoice) -> ModelInventory {
        let size = (try? FileManager.default.attributesOfItem(atPath: voice.modelURL.path)[.size] as? NSNumber)?.uint64Value
        return ModelInventory(model: voice.name, kind: .sentences, components: [
            ModelComponent(name: .piperModel, variants: [ModelVariant(.fp32, bytes: size)], hasStaticShapes: false)
        ])
    }

    public func plan(for voice: PiperVoice) throws -> ExecutionPlan {
        try ExecutionPlanner(gpuBuild: gpuBuild).plan(hardware: try hardware(), inventory: Self.inventory(for: voice), overrides: configuration.overrides)
    }

    /// A synthesizer for a Piper voice: the optimizer around the engine, or the plain engine.
    public func piper(_ voice: PiperVoice) async throws -> any SpeechSynthesizer {
        let runtime = try runtime()
        guard configuration.optimize else {
            return try PiperEngine(voice: voice, phonemizer: phonemizer, runtime: runtime, logger: logger)
        }
        let plan = try plan(for: voice)
        let phonemizer = self.phonemizer
        let logger = self.logger
        let paths = self.paths
        let cacheDirectory = optimizedModelDirectory
        let cacheHealth = self.cacheHealth
        let warmUp = configuration.warmUp
        // A one-sentence warm-up also loads the session a short request to an idle server uses.
        let optimized = OptimizedSynthesizer(plan: plan, warmUpRequest: SynthesisRequest(text: "Hello, this is a warm-up."), logger: logger) { entry in
            let entryRuntime = entry.provider == .cuda ? try ONNXRuntime.shared(preferGPU: true, paths: paths) : runtime
            // A lone sentence gets all of the entry's threads; several share them, one run per worker.
            let workers = entry.chunking.parallelSentences
            return try OptimizedModelFile.build(voice: voice, entry: entry, cacheDirectory: cacheDirectory, health: cacheHealth, logger: logger) { model, options in
                try PiperEngine(
                    voice: model, phonemizer: phonemizer, options: options, runtime: entryRuntime, sentenceConcurrency: workers,
                    parallelIntraOpThreads: max(1, entry.intraOpThreads / max(1, workers)), loneSentenceSession: warmUp, logger: logger)
            }
        }
        if warmUp {
            try await optimized.prepare()
        }
        return optimized
    }

    // MARK: Chatterbox

    /// Whether a Chatterbox export is where `chatterbox()` looks.
    public var chatterboxInstalled: Bool {
        FileManager.default.fileExists(atPath: paths.chatterboxDirectory.path)
    }

    /// What the planner sees of a Chatterbox export: four graphs, the precision variants on disk,
    /// token generation. None is declared static-shaped: the language model's KV cache grows every
    /// step and the other graphs follow the text and the reference, so no CUDA graph is captured.
    public static func inventory(for files: ChatterboxModelFiles) -> ModelInventory {
        ModelInventory(
            model: "chatterbox", kind: .tokens,
            components: ChatterboxModelFiles.components.map { component in
                ModelComponent(name: component, variants: files.variants(for: component).map { precision in
                    ModelVariant(precision, bytes: files.byteCount(of: component, precision: precision))
                })
            },
            kvCache: ExecutionPlanner.chatterboxTurboKVCache)
    }

    /// The plan follows the per-token speeds `voxserve bench chatterbox` measured on this CPU, when saved.
    public func plan(forChatterboxAt directory: URL) throws -> ExecutionPlan {
        let hardware = try hardware()
        return try ExecutionPlanner(gpuBuild: gpuBuild).plan(
            hardware: hardware, inventory: Self.inventory(for: try ChatterboxModelFiles(directory: directory)), overrides: configuration.overrides,
            measured: MeasuredPrecisionSpeed.load(cacheDirectory: paths.cacheDirectory, cpu: hardware.cpu.modelName))
    }

    /// Memory for the language model's cached conditioning positions of recent voices
    /// (`ChatterboxOptions.prefixCacheBytes`): 192 KiB per position for the full-size Turbo model in
    /// fp32, 47 MiB for a 10 s reference's 251 positions, so about five voices.
    public static let chatterboxPrefixCacheBytes = 256 << 20

    /// The Chatterbox export in `directory` (default: `paths.chatterboxDirectory`), through the
    /// optimizer unless it is off. References are conditioned through the shared conditioning
    /// cache, so a voice is encoded once.
    public func chatterbox(directory: URL? = nil) async throws -> any SpeechSynthesizer {
        let directory = directory ?? paths.chatterboxDirectory
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw VoxError(.modelNotFound, "No Chatterbox model at \(directory.path): download the ONNX export there, or set VOXSERVE_CHATTERBOX_DIR (see the README).", detail: directory.path)
        }
        let files = try ChatterboxModelFiles(directory: directory)
        let runtime = try runtime()
        let store = conditioningCache
        guard configuration.optimize else {
            return try ChatterboxEngine(files: files, runtime: runtime, logger: logger)
        }
        let plan = try plan(forChatterboxAt: directory)
        let logger = self.logger
        let benchMaxNewTokens = configuration.benchMaxNewTokens
        let paths = self.paths
        // On CUDA, every graph runs once on made-up input at start (ChatterboxEngine.warmUp): the
        // first request would otherwise pay for CUDA, cuDNN and cuBLAS start-up and kernel choice.
        // On the CPU, no warm-up: loading is most of the cost, and the first request brings a voice.
        let warmUpOnGPU = configuration.warmUp && plan.primary?.provider == .cuda
        let optimized = OptimizedSynthesizer(plan: plan, warmUp: { engine in
            guard let chatterbox = engine as? ChatterboxEngine else { return }
            try await chatterbox.warmUp()
        }, logger: logger) { entry in
            var choices: [ModelComponentID: ModelPrecision] = [:]
            var perComponent: [ModelComponentID: SessionOptions] = [:]
            for component in ChatterboxModelFiles.components {
                choices[component] = entry.precision(for: component)
                perComponent[component] = OptimizedModelFile.sessionOptions(for: entry, component: component)
            }
            var options = ChatterboxOptions()
            if let tokens = entry.chunking.firstChunkTokens { options.streamFirstChunkTokens = tokens }
            if let tokens = entry.chunking.chunkTokens { options.streamChunkTokens = tokens }
            if let characters = entry.chunking.maxSentenceCharacters { options.maxSentenceCharacters = characters }
            options.overlapDecoder = entry.chunking.overlapDecoder ?? false
            options.decoderConcurrency = entry.chunking.decoderConcurrency ?? 0
            options.ioBinding = entry.ioBinding
            options.prefixCacheBytes = Self.chatterboxPrefixCacheBytes
            if let batching = entry.batching {
                options.maxBatch = batching.maxBatch
                options.prefillChunkPositions = batching.prefillChunkPositions
            }
            if let tokens = benchMaxNewTokens {
                options.maxNewTokens = tokens
                options.ignoresStopToken = true
            }
            let entryRuntime = entry.provider == .cuda ? try ONNXRuntime.shared(preferGPU: true, paths: paths) : runtime
            return try ChatterboxEngine(
                files: try files.selecting(choices), options: options, componentSessionOptions: perComponent,
                runtime: entryRuntime, conditioningStore: store, logger: logger)
        }
        if warmUpOnGPU { try await optimized.prepare() }
        return optimized
    }
}
