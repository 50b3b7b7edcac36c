/// A snapshot of a ``ConditioningCache``'s counters, for `/metrics` and `voxserve bench`.
public struct ConditioningCacheStats: Sendable, Equatable, Codable {
    /// Requests answered from memory.
    public var memoryHits: Int
    /// Requests answered from a disk entry.
    public var diskHits: Int
    /// Computations started (one per key, however many requests waited on it).
    public var misses: Int
    /// Requests that joined a computation or disk read already in flight for their key.
    public var coalescedRequests: Int
    /// Entries dropped from memory to stay within the byte budget.
    public var evictions: Int
    /// Computations that threw (nothing was cached; every waiter got the error).
    public var computeFailures: Int
    /// Disk entries found corrupt, truncated, foreign or of another format version, deleted and recomputed.
    public var discardedDiskEntries: Int
    /// Computed conditionings that could not be written to disk (the request still succeeded).
    public var diskWriteFailures: Int
    /// Entries and bytes (tensor elements) held in memory now.
    public var memoryEntries: Int
    public var memoryBytes: Int
    public var memoryBudgetBytes: Int
    /// Entry files and their bytes on disk now (0 without a disk store).
    public var diskEntries: Int
    public var diskBytes: Int

    public init(
        memoryHits: Int = 0, diskHits: Int = 0, misses: Int = 0, coalescedRequests: Int = 0, evictions: Int = 0,
        computeFailures: Int = 0, discardedDiskEntries: Int = 0, diskWriteFailures: Int = 0, memoryEntries: Int = 0,
        memoryBytes: Int = 0, memoryBudgetBytes: Int = 0, diskEntries: Int = 0, diskBytes: Int = 0
    ) {
        self.memoryHits = memoryHits
        self.diskHits = diskHits
        self.misses = misses
        self.coalescedRequests = coalescedRequests
        self.evictions = evictions
        self.computeFailures = computeFailures
        self.discardedDiskEntries = discardedDiskEntries
        self.diskWriteFailures = diskWriteFailures
        self.memoryEntries = memoryEntries
        self.memoryBytes = memoryBytes
        self.memoryBudgetBytes = memoryBudgetBytes
        self.diskEntries = diskEntries
        self.diskBytes = diskBytes
    }

    /// Every request the cache answered or failed.
    public var requests: Int { memoryHits + diskHits + misses + coalescedRequests }
}
