import Foundation
import Logging
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// How engines are built: through the optimizer (the default) or plain (`--no-optimize`).
public struct EngineSettings: Sendable, Equatable {
    /// False bypasses the optimizer entirely: the plain engine with ONNX Runtime's default settings.
    public var optimize: Bool
    public var overrides: PlanOverrides
    /// Synthesize a short text once when an engine is built (right for a server, wasted on a one-shot CLI call).
    public var warmUp: Bool

    public init(optimize: Bool = true, overrides: PlanOverrides = PlanOverrides(), warmUp: Bool = true) {
        self.optimize = optimize
        self.overrides = overrides
        self.warmUp = warmUp
    }

    /// `VOXSERVE_OPTIMIZE=0` turns the optimizer off.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> EngineSettings {
        EngineSettings(optimize: env["VOXSERVE_OPTIMIZE"] != "0")
    }
}

/// Builds synthesizers for voices, the one place where the engines, the optimizer's plan and
/// ONNX Runtime meet. The CLI, the server and the benchmark all get their engines here.
public final class SynthesizerFactory: Sendable {
    public let paths: VoxPaths
    public let settings: EngineSettings
    public let phonemizer: any Phonemizer
    private let logger: Logger
    private let hardwareReport = Locked<HardwareReport?>(nil)
    private let prefersGPU = Locked<Bool?>(nil)
    /// Conditioning computed by cloning engines (memory + `paths.cacheDirectory`), shared by every
    /// engine this factory builds.
    public let conditioningCache: ConditioningCache
    /// The cache as cloning engines see it.
    public let conditioningStore: CachedConditioningStore

    public init(paths: VoxPaths = .fromEnvironment(), settings: EngineSettings = .fromEnvironment(), phonemizer: any Phonemizer, logger: Logger = Logger(label: "vox.factory")) {
        self.paths = paths
        self.settings = settings
        self.phonemizer = phonemizer
        self.logger = logger
        self.conditioningCache = ConditioningCache(configuration: ConditioningCacheConfiguration(directory: paths.cacheDirectory), logger: logger)
        self.conditioningStore = CachedConditioningStore(cache: conditioningCache)
    }

    /// Where optimized graphs are saved and reused (`OptimizedModelFile`): `$VOXSERVE_CACHE_DIR/optimized`.
    public var optimizedModelDirectory: URL { paths.cacheDirectory.appendingPathComponent("optimized") }

    /// Whether setup installed the GPU build of ONNX Runtime.
    public var gpuRuntimeInstalled: Bool {
        guard let gpu = paths.onnxRuntimeLibraryCandidates(preferGPU: true).first else { return false }
        return FileManager.default.fileExists(atPath: gpu.path) && gpu.path.contains("onnxruntime-gpu")
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

    /// What Piper needs planned: one graph, fp32 only, dynamic shapes (no CUDA graphs).
    public static func inventory(for voice: PiperVoice) -> ModelInventory {
        let size = (try? FileManager.default.attributesOfItem(atPath: voice.modelURL.path)[.size] as? NSNumber)?.uint64Value
        return ModelInventory(model: voice.name, components: [
            ModelComponent(name: "model", variants: [ModelVariant(.fp32, bytes: size)], hasStaticShapes: false)
        ])
    }

    /// Where a Chatterbox model is looked for: `VOXSERVE_CHATTERBOX_DIR`, else `$VOXSERVE_HOME/models/chatterbox`
    /// (the rule of `ChatterboxEngine.modelDirectory`).
    public func chatterboxDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        ChatterboxEngine.modelDirectory(paths: paths, environment: environment)
    }

    /// What Chatterbox needs planned: its four graphs as the model folder ships them (in `onnx/`, as
    /// ResembleAI/chatterbox-turbo-ONNX lays them out, or at the top). None is declared static-shaped:
    /// the language model's KV cache grows every step and the other graphs follow the text and the
    /// reference, so no CUDA graph is captured.
    public static func inventory(forChatterboxAt directory: URL) throws -> ModelInventory {
        inventory(for: try ChatterboxModelFiles(directory: directory))
    }

    public func plan(forChatterboxAt directory: URL) throws -> ExecutionPlan {
        try ExecutionPlanner().plan(hardware: try hardware(), inventory: Self.inventory(forChatterboxAt: directory), overrides: settings.overrides)
    }

    public func plan(for voice: PiperVoice) throws -> ExecutionPlan {
        try ExecutionPlanner().plan(hardware: try hardware(), inventory: Self.inventory(for: voice), overrides: settings.overrides)
    }

    /// A synthesizer for a Piper voice: the optimizer around the engine, or the plain engine.
    public func piper(_ voice: PiperVoice) async throws -> any SpeechSynthesizer {
        let runtime = try runtime()
        guard settings.optimize else {
            return try PiperEngine(voice: voice, phonemizer: phonemizer, runtime: runtime, logger: logger)
        }
        let plan = try plan(for: voice)
        let phonemizer = self.phonemizer
        let logger = self.logger
        let cacheDirectory = optimizedModelDirectory
        let warmUp = settings.warmUp
        // A one-sentence warm-up also loads the session a short request to an idle server uses.
        let optimized = OptimizedSynthesizer(plan: plan, warmUpRequest: SynthesisRequest(text: "Hello, this is a warm-up."), logger: logger) { entry in
            let gpu = entry.provider == .cuda
            let entryRuntime = gpu ? try ONNXRuntime.shared(preferGPU: true) : runtime
            // A lone sentence gets all of the entry's threads; several share them, one run per worker.
            let workers = entry.chunking.parallelSentences
            return try OptimizedModelFile.build(voice: voice, entry: entry, cacheDirectory: cacheDirectory, logger: logger) { model, options in
                try PiperEngine(
                    voice: model, phonemizer: phonemizer, options: options, runtime: entryRuntime, sentenceConcurrency: workers,
                    parallelIntraOpThreads: max(1, entry.intraOpThreads / max(1, workers)), loneSentenceSession: warmUp, logger: logger)
            }
        }
        if settings.warmUp {
            try await optimized.prepare()
        }
        return optimized
    }
}

extension SynthesizerFactory {
    /// What the planner sees of a Chatterbox export: four graphs, the precision variants on disk,
    /// no static shapes (audio and token lengths change with every request).
    public static func inventory(for files: ChatterboxModelFiles) -> ModelInventory {
        ModelInventory(model: "chatterbox", components: ChatterboxComponent.allCases.map { component in
            ModelComponent(name: component.rawValue, variants: files.variants(for: component).map { precision in
                ModelVariant(Self.planPrecision(precision), bytes: files.byteCount(of: component, precision: precision))
            })
        })
    }

    static func planPrecision(_ precision: ChatterboxPrecision) -> ModelPrecision {
        switch precision {
        case .fp32: return .fp32
        case .fp16: return .fp16
        case .q4: return .q4
        case .q4f16: return .q4f16
        case .quantized: return .int8
        }
    }

    static func chatterboxPrecision(_ precision: ModelPrecision) -> ChatterboxPrecision? {
        switch precision {
        case .fp32: return .fp32
        case .fp16: return .fp16
        case .q4: return .q4
        case .q4f16: return .q4f16
        case .int8: return .quantized
        case .bf16: return nil
        }
    }

    /// The Chatterbox export in `directory` (default: `VOXSERVE_CHATTERBOX_DIR`, else
    /// `$VOXSERVE_HOME/models/chatterbox`), through the optimizer unless it is off. References are
    /// conditioned through the shared conditioning cache, so a voice is encoded once.
    /// Whether a Chatterbox export is where `chatterbox()` looks.
    public var chatterboxInstalled: Bool {
        FileManager.default.fileExists(atPath: chatterboxDirectory().path)
    }

    public func chatterbox(directory: URL? = nil) async throws -> any SpeechSynthesizer {
        let directory = directory ?? chatterboxDirectory()
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw VoxError(.modelNotFound, "No Chatterbox model at \(directory.path): download the ONNX export there, or set VOXSERVE_CHATTERBOX_DIR (see the README).", detail: directory.path)
        }
        let files = try ChatterboxModelFiles(directory: directory)
        let runtime = try runtime()
        let store = conditioningStore
        guard settings.optimize else {
            return try ChatterboxEngine(files: files, runtime: runtime, logger: logger)
        }
        let plan = try plan(forChatterboxAt: directory)
        let logger = self.logger
        // No warm-up: Chatterbox needs a reference to speak, and the first request brings one.
        return OptimizedSynthesizer(plan: plan, logger: logger) { entry in
            var choices: [ChatterboxComponent: ChatterboxPrecision] = [:]
            var perComponent: [ChatterboxComponent: SessionOptions] = [:]
            for component in ChatterboxComponent.allCases {
                if let p = entry.precision(for: component.rawValue), let c = Self.chatterboxPrecision(p) { choices[component] = c }
                perComponent[component] = OptimizedModelFile.sessionOptions(for: entry, component: component.rawValue)
            }
            var options = ChatterboxOptions()
            options.streamFirstChunkTokens = entry.chunking.firstChunkTokens
            options.streamChunkTokens = entry.chunking.chunkTokens
            options.ioBinding = entry.ioBinding
            let entryRuntime = entry.provider == .cuda ? try ONNXRuntime.shared(preferGPU: true) : runtime
            return try ChatterboxEngine(
                files: try files.selecting(choices), options: options, componentSessionOptions: perComponent,
                runtime: entryRuntime, conditioningStore: store, logger: logger)
        }
    }
}
