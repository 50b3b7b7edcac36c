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
    private let hardwareReport = LockedLazy<HardwareReport>()

    public init(paths: VoxPaths = .fromEnvironment(), settings: EngineSettings = .fromEnvironment(), phonemizer: any Phonemizer, logger: Logger = Logger(label: "vox.factory")) {
        self.paths = paths
        self.settings = settings
        self.phonemizer = phonemizer
        self.logger = logger
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
        let preferGPU = gpuRuntimeInstalled && !HardwareProbe().probeGPU().devices.isEmpty
        do {
            return try ONNXRuntime.shared(preferGPU: preferGPU, paths: paths)
        } catch let error as ONNXRuntimeError {
            throw error.voxError
        }
    }

    /// The probe, with the providers of the runtime that is loaded (computed once).
    public func hardware() throws -> HardwareReport {
        let runtime = try runtime()
        return hardwareReport.get { HardwareProbe().probe(onnxRuntimeProviders: runtime.availableProviders()) }
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
        if let dir = environment["VOXSERVE_CHATTERBOX_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        return paths.home.appendingPathComponent("models/chatterbox")
    }

    /// What Chatterbox needs planned: its four graphs as the model folder ships them (in `onnx/`, as
    /// ResembleAI/chatterbox-turbo-ONNX lays them out, or at the top). None is declared static-shaped:
    /// the language model's KV cache grows every step and the other graphs follow the text and the
    /// reference, so no CUDA graph is captured.
    public static func inventory(forChatterboxAt directory: URL) throws -> ModelInventory {
        let onnx = directory.appendingPathComponent("onnx")
        var isDirectory: ObjCBool = false
        let scanned = FileManager.default.fileExists(atPath: onnx.path, isDirectory: &isDirectory) && isDirectory.boolValue ? onnx : directory
        return try ModelInventory(model: "chatterbox", scanning: scanned)
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
        let optimized = OptimizedSynthesizer(plan: plan, logger: logger) { entry in
            let gpu = entry.provider == .cuda
            let entryRuntime = gpu ? try ONNXRuntime.shared(preferGPU: true) : runtime
            return try OptimizedModelFile.build(voice: voice, entry: entry, cacheDirectory: cacheDirectory, logger: logger) { model, options in
                try PiperEngine(voice: model, phonemizer: phonemizer, options: options, runtime: entryRuntime, logger: logger)
            }
        }
        if settings.warmUp {
            try await optimized.prepare()
        }
        return optimized
    }
}

/// Computes a value once, under a lock.
final class LockedLazy<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?

    func get(_ make: () throws -> Value) rethrows -> Value {
        lock.lock()
        defer { lock.unlock() }
        if let value { return value }
        let made = try make()
        value = made
        return made
    }
}
