import Foundation
import Logging
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// Session options for a plan entry, and the optimized-model cache: the first load of a model on
/// this hardware saves ONNX Runtime's optimized graph; later loads read it with optimization off,
/// which skips the optimizer's work at start-up.
enum OptimizedModelFile {
    /// The session options a plan entry states for one of its graphs.
    static func sessionOptions(for entry: PlanEntry, component: ModelComponentID) -> SessionOptions {
        SessionOptions(
            intraOpThreads: entry.intraOpThreads, interOpThreads: entry.interOpThreads, graphOptimizationLevel: entry.graphOptimization,
            provider: entry.provider, deviceID: entry.deviceIndex ?? 0, cudaGraph: entry.usesCUDAGraph(for: component),
            cudnnConvAlgoSearch: entry.cudnnConvAlgoSearch ?? .heuristic, gpuMemoryLimitBytes: entry.gpuMemoryLimit(for: component),
            arenaExtendStrategy: .sameAsRequested, recordPlacement: entry.provider == .cuda)
    }

    /// The file that holds (or will hold) the optimized graph of `voice` for a plan entry's cache key.
    static func cachedModelURL(voice: PiperVoice, key: String, cacheDirectory: URL) -> URL {
        cacheDirectory.appendingPathComponent("\(voice.name)-\(voice.fingerprint)-\(key.prefix(16)).onnx")
    }

    /// Builds the engine from the cached optimized graph when there is one, else from the original
    /// model while saving the optimized graph for next time. A folder that cannot be written (or a
    /// full disk) only costs the saving: the engine is built all the same and `health` says why.
    static func build<Engine>(
        voice: PiperVoice, entry: PlanEntry, cacheDirectory: URL, health: CacheHealth, logger: Logger,
        make: (PiperVoice, SessionOptions) throws -> Engine
    ) throws -> Engine {
        var options = sessionOptions(for: entry, component: .piperModel)
        guard let key = entry.optimizedModelCacheKey else { return try make(voice, options) }
        let fm = FileManager.default
        let cached = cachedModelURL(voice: voice, key: key, cacheDirectory: cacheDirectory)
        if fm.fileExists(atPath: cached.path) {
            var optimizedVoice = voice
            optimizedVoice.modelURL = cached
            var cachedOptions = options
            cachedOptions.graphOptimizationLevel = .disabled
            do {
                return try make(optimizedVoice, cachedOptions)
            } catch {
                logger.warning("cached optimized model unusable; rebuilding", metadata: ["vox.path": "\(cached.path)", "vox.error": "\(error)"])
                try? fm.removeItem(at: cached)
            }
        }
        let area = "optimized models"
        func cannotSave(_ why: String) {
            health.report(area, "cannot be saved (\(why)); each start optimizes again")
            logger.warning("cannot keep the optimized model; the next start optimizes again", metadata: ["vox.path": "\(cached.path)", "vox.error": "\(why)"])
        }
        if let problem = CacheHealth.writeProblem(in: cacheDirectory) {
            cannotSave(problem)
            return try make(voice, options)
        }
        // ONNX Runtime writes the optimized graph to a temporary file, moved into place once whole.
        let temporary = AtomicFile.temporaryURL(for: cached)
        options.optimizedModelPath = temporary.path
        let engine: Engine
        do {
            engine = try make(voice, options)
        } catch {
            // Writing the graph may be what failed (a disk that filled up): once more without it.
            try? fm.removeItem(at: temporary)
            options.optimizedModelPath = nil
            engine = try make(voice, options)
            cannotSave("ONNX Runtime could not write it")
            return engine
        }
        if fm.fileExists(atPath: temporary.path) {
            do {
                try AtomicFile.replace(cached, with: temporary)
                health.clear(area)
            } catch {
                try? fm.removeItem(at: temporary)
                cannotSave(CacheHealth.reason(error))
            }
        }
        return engine
    }
}
