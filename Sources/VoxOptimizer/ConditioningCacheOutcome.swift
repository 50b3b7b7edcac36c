/// Where a ``ConditioningCache`` answer came from.
public enum ConditioningCacheOutcome: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    /// Found in the memory tier.
    case memoryHit = "memory_hit"
    /// Read from a disk entry (and now also held in memory).
    case diskHit = "disk_hit"
    /// Computed by the engine (and now stored). A request that joined a computation already in
    /// flight for the same key also reports `.miss`: it waited for the same computation.
    case miss
}
