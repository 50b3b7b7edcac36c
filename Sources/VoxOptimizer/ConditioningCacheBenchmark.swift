import Foundation
import Logging
import VoxCore
import VoxONNX

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
            return (value, outcome, (clock.now - start).seconds)
        }

        var keySamples: [Double] = []
        for _ in 0..<iterations {
            let start = clock.now
            _ = ConditioningKey(referenceData: reference, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
            keySamples.append((clock.now - start).seconds)
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
}

/// What ``ConditioningCacheBenchmark/run(reference:engine:modelFingerprint:parameters:scratchDirectory:iterations:logger:compute:)``
/// measured. Every timing covers a whole request as a server makes it: hashing the reference
/// into a key, then asking the cache.
public struct ConditioningCacheBenchmarkResult: Sendable, Equatable, Codable {
    public var engine: String
    public var referenceBytes: Int
    /// Tensor bytes of the conditioning.
    public var conditioningBytes: Int
    /// Size of the entry file on disk.
    public var diskEntryBytes: Int
    /// Hashing the reference into a key, alone.
    public var keySeconds: CacheBenchmarkTimings
    /// The first request: hash, store lookup, compute, disk write.
    public var missSeconds: Double
    /// Further requests to the same cache instance.
    public var memoryHitSeconds: CacheBenchmarkTimings
    /// The first request to a new cache instance (empty memory) on the same folder.
    public var diskHitSeconds: CacheBenchmarkTimings
    /// `missSeconds / memoryHitSeconds.median`.
    public var memoryHitSpeedup: Double
    /// `missSeconds / diskHitSeconds.median`.
    public var diskHitSpeedup: Double
    /// What each phase's requests reported; a correct run has `[.miss]`, then only `.memoryHit`, then only `.diskHit`.
    public var missOutcome: ConditioningCacheOutcome
    public var memoryHitOutcomes: [ConditioningCacheOutcome]
    public var diskHitOutcomes: [ConditioningCacheOutcome]

    public init(
        engine: String, referenceBytes: Int, conditioningBytes: Int, diskEntryBytes: Int, keySeconds: CacheBenchmarkTimings,
        missSeconds: Double, memoryHitSeconds: CacheBenchmarkTimings, diskHitSeconds: CacheBenchmarkTimings,
        missOutcome: ConditioningCacheOutcome, memoryHitOutcomes: [ConditioningCacheOutcome],
        diskHitOutcomes: [ConditioningCacheOutcome]
    ) {
        self.engine = engine
        self.referenceBytes = referenceBytes
        self.conditioningBytes = conditioningBytes
        self.diskEntryBytes = diskEntryBytes
        self.keySeconds = keySeconds
        self.missSeconds = missSeconds
        self.memoryHitSeconds = memoryHitSeconds
        self.diskHitSeconds = diskHitSeconds
        self.memoryHitSpeedup = memoryHitSeconds.median > 0 ? missSeconds / memoryHitSeconds.median : 0
        self.diskHitSpeedup = diskHitSeconds.median > 0 ? missSeconds / diskHitSeconds.median : 0
        self.missOutcome = missOutcome
        self.memoryHitOutcomes = memoryHitOutcomes
        self.diskHitOutcomes = diskHitOutcomes
    }

    /// True when every phase got the outcome it was meant to measure.
    public var outcomesAsExpected: Bool {
        missOutcome == .miss && memoryHitOutcomes.allSatisfy { $0 == .memoryHit }
            && diskHitOutcomes.allSatisfy { $0 == .diskHit }
    }
}

/// Summary of repeated wall-clock measurements, in seconds.
public struct CacheBenchmarkTimings: Sendable, Equatable, Codable {
    public var samples: [Double]
    public var min: Double
    public var median: Double
    public var mean: Double
    public var max: Double

    public init(samples: [Double]) {
        let sorted = samples.sorted()
        self.samples = samples
        self.min = sorted.first ?? 0
        self.max = sorted.last ?? 0
        self.mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        if sorted.isEmpty {
            self.median = 0
        } else if sorted.count % 2 == 1 {
            self.median = sorted[sorted.count / 2]
        } else {
            self.median = (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
    }
}
