import Foundation
import Logging
import VoxCore

/// Measures what the conditioning cache saves: the time of a miss (the engine computes), of a
/// memory hit and of a disk hit (a new cache instance, so an empty memory tier, on the same
/// folder), for whatever `compute` the caller brings (`voxserve bench` brings the real speaker
/// encoder on a 10 s reference). The peer of each hit is the miss measured in the same run.
public enum ConditioningCacheBenchmark {
    /// Runs the three phases in a new folder under `scratchDirectory`, which is removed afterwards.
    /// `compute` runs once (the miss). Timings are wall-clock seconds.
    public static func run(
        reference: Data,
        engine: String,
        modelFingerprint: String,
        parameters: [String: String] = [:],
        scratchDirectory: URL,
        iterations: Int = 5,
        logger: Logger = Logger(label: "voxserve.bench"),
        compute: @escaping @Sendable () async throws -> Conditioning
    ) async throws -> ConditioningCacheBenchmarkResult {
        guard iterations >= 1 else {
            throw VoxError.invalidInput("The cache benchmark needs at least 1 iteration (got \(iterations)).")
        }
        let directory = scratchDirectory.appendingPathComponent("conditioning-cache-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = ConditioningCacheConfiguration(directory: directory)
        let clock = ContinuousClock()

        func request(_ cache: ConditioningCache) async throws -> (Conditioning, ConditioningCacheOutcome, Double) {
            let start = clock.now
            let key = ConditioningKey(referenceData: reference, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
            let (value, outcome) = try await cache.conditioning(for: key, compute: compute)
            return (value, outcome, seconds(clock.now - start))
        }

        var keySamples: [Double] = []
        for _ in 0..<iterations {
            let start = clock.now
            _ = ConditioningKey(referenceData: reference, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
            keySamples.append(seconds(clock.now - start))
        }

        let first = ConditioningCache(configuration: configuration, logger: logger)
        let (conditioning, missOutcome, missSeconds) = try await request(first)

        var memorySamples: [Double] = []
        var memoryOutcomes: [ConditioningCacheOutcome] = []
        for _ in 0..<iterations {
            let (_, outcome, elapsed) = try await request(first)
            memorySamples.append(elapsed)
            memoryOutcomes.append(outcome)
        }

        var diskSamples: [Double] = []
        var diskOutcomes: [ConditioningCacheOutcome] = []
        for _ in 0..<iterations {
            let fresh = ConditioningCache(configuration: configuration, logger: logger)
            let (_, outcome, elapsed) = try await request(fresh)
            diskSamples.append(elapsed)
            diskOutcomes.append(outcome)
        }

        let diskEntryBytes = await first.stats().diskBytes
        let result = ConditioningCacheBenchmarkResult(
            engine: engine, referenceBytes: reference.count, conditioningBytes: conditioning.byteCount,
            diskEntryBytes: diskEntryBytes, keySeconds: CacheBenchmarkTimings(samples: keySamples),
            missSeconds: missSeconds, memoryHitSeconds: CacheBenchmarkTimings(samples: memorySamples),
            diskHitSeconds: CacheBenchmarkTimings(samples: diskSamples), missOutcome: missOutcome,
            memoryHitOutcomes: memoryOutcomes, diskHitOutcomes: diskOutcomes
        )
        if !result.outcomesAsExpected {
            logger.warning(
                "Conditioning cache benchmark phases did not get their intended outcomes",
                metadata: ["vox.engine": "\(engine)", "vox.bench.miss": "\(missOutcome)", "vox.bench.memory": "\(memoryOutcomes)", "vox.bench.disk": "\(diskOutcomes)"]
            )
        }
        return result
    }

    private static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}
