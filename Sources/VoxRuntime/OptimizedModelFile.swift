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
            cudnnConvAlgoSearch: entry.cudnnConvAlgoSearch ?? .heuristic)
    }

    /// The file that holds (or will hold) the optimized graph of `voice` for a plan entry's cache key.
    static func cachedModelURL(voice: PiperVoice, key: String, cacheDirectory: URL) -> URL {
        cacheDirectory.appendingPathComponent("\(voice.name)-\(voice.fingerprint)-\(key.prefix(16)).onnx")
    }

    /// Builds the engine from the cached optimized graph when there is one, else from the original
    /// model while saving the optimized graph for next time.
    static func build<Engine>(
        voice: PiperVoice, entry: PlanEntry, cacheDirectory: URL, logger: Logger,
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
        try? fm.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        // ONNX Runtime writes the optimized graph to a temporary file, moved into place once whole.
        let temporary = AtomicFile.temporaryURL(for: cached)
        options.optimizedModelPath = temporary.path
        let engine = try make(voice, options)
        if fm.fileExists(atPath: temporary.path) {
            do {
                try AtomicFile.replace(cached, with: temporary)
            } catch {
                logger.warning("cannot keep the optimized model; the next start optimizes again", metadata: ["vox.error": "\(error)"])
            }
        }
        return engine
    }
}
