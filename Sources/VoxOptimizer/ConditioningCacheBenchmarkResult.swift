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
