import Foundation
import Logging
import VoxCore

/// Remembers what an engine computed from a voice reference, so a voice cloned once is never
/// computed twice: first in memory (least recently used first out, under a byte budget), then in
/// a ``ConditioningStore`` that outlives the process (by default a ``DiskConditioningStore``).
///
/// - Concurrent requests for one key share one computation (or one disk read): the first starts
///   it, the others wait for it.
/// - A computation that throws is not cached; every request waiting on it gets the error, and the
///   next request computes again.
/// - A disk entry that cannot be used (corrupt, truncated, foreign, another version) is deleted,
///   logged and recomputed; no error reaches the caller. Nor does a failure to write an entry.
/// - Cancelling one request does not cancel the shared computation: others may be waiting on it,
///   and its result is worth keeping.
public actor ConditioningCache {
    private typealias Answer = (Conditioning, ConditioningCacheOutcome)

    private let store: (any ConditioningStore)?
    private let logger: Logger
    private var memory: ConditioningMemoryTier
    private var inFlight: [String: Task<Answer, any Error>] = [:]

    private var memoryHits = 0
    private var diskHits = 0
    private var misses = 0
    private var coalescedRequests = 0
    private var evictions = 0
    private var computeFailures = 0
    private var discardedDiskEntries = 0
    private var diskWriteFailures = 0

    /// A cache over any persistent tier (nil: memory only).
    public init(
        memoryBudgetBytes: Int = ConditioningCacheConfiguration.defaultMemoryBudgetBytes,
        store: (any ConditioningStore)?,
        logger: Logger = Logger(label: "voxserve.cache")
    ) {
        self.store = store
        self.logger = logger
        self.memory = ConditioningMemoryTier(budgetBytes: memoryBudgetBytes)
    }

    /// A cache whose persistent tier is a ``DiskConditioningStore`` in `configuration.directory`
    /// (memory only when that is nil).
    public init(configuration: ConditioningCacheConfiguration, logger: Logger = Logger(label: "voxserve.cache")) {
        self.init(
            memoryBudgetBytes: configuration.memoryBudgetBytes,
            store: configuration.directory.map { DiskConditioningStore(directory: $0, logger: logger) },
            logger: logger
        )
    }

    /// The conditioning for `key`: from memory, else from the store, else from `compute` (whose
    /// result is then kept in both tiers). `compute` runs at most once per key at a time, however
    /// many requests ask. Its error, if it throws, is rethrown unchanged to every waiting request.
    public func conditioning(
        for key: ConditioningKey,
        compute: @escaping @Sendable () async throws -> Conditioning
    ) async throws -> (Conditioning, ConditioningCacheOutcome) {
        if let value = memory.value(for: key.digest) {
            memoryHits += 1
            return (value, .memoryHit)
        }
        if let running = inFlight[key.digest] {
            coalescedRequests += 1
            return try await running.value
        }
        let task = Task<Answer, any Error> {
            let result: Result<Answer, any Error>
            do {
                result = .success(try await self.resolve(key, compute: compute))
            } catch {
                result = .failure(error)
            }
            self.finish(key, result)
            return try result.get()
        }
        inFlight[key.digest] = task
        return try await task.value
    }

    /// The counters now, with the store's current size.
    public func stats() async -> ConditioningCacheStats {
        var usage = ConditioningStoreUsage(entries: 0, bytes: 0)
        if let store {
            do {
                usage = try await store.usage()
            } catch {
                logger.warning("Cannot measure the conditioning cache on disk", metadata: ["vox.error": "\(error)"])
            }
        }
        return ConditioningCacheStats(
            memoryHits: memoryHits, diskHits: diskHits, misses: misses, coalescedRequests: coalescedRequests,
            evictions: evictions, computeFailures: computeFailures, discardedDiskEntries: discardedDiskEntries,
            diskWriteFailures: diskWriteFailures, memoryEntries: memory.count, memoryBytes: memory.totalBytes,
            memoryBudgetBytes: memory.budgetBytes, diskEntries: usage.entries, diskBytes: usage.bytes
        )
    }

    /// Drops every entry from memory (the store keeps its entries).
    public func clearMemory() {
        memory.removeAll()
    }

    /// Drops `key` from both tiers.
    public func remove(_ key: ConditioningKey) async throws {
        memory.removeValue(for: key.digest)
        try await store?.remove(key)
    }

    /// Store, then compute. Runs outside the actor except for the counter updates.
    private nonisolated func resolve(
        _ key: ConditioningKey, compute: @Sendable () async throws -> Conditioning
    ) async throws -> Answer {
        if let store {
            do {
                if let stored = try await store.load(key) { return (stored, .diskHit) }
            } catch {
                await noteDiscardedEntry()
                logger.warning(
                    "Conditioning cache entry unusable; recomputing",
                    metadata: ["vox.cache.key": "\(key.digest)", "vox.engine": "\(key.engine)", "vox.error": "\(error)"]
                )
            }
        }
        let computed = try await compute()
        if let store {
            do {
                try await store.save(computed, for: key)
            } catch {
                await noteDiskWriteFailure()
                logger.error(
                    "Cannot write conditioning cache entry; continuing without it",
                    metadata: ["vox.cache.key": "\(key.digest)", "vox.engine": "\(key.engine)", "vox.error": "\(error)"]
                )
            }
        }
        return (computed, .miss)
    }

    /// Bookkeeping once a computation or disk read ends, before any waiter resumes.
    private func finish(_ key: ConditioningKey, _ result: Result<Answer, any Error>) {
        inFlight[key.digest] = nil
        switch result {
        case .success((let value, let outcome)):
            if outcome == .diskHit { diskHits += 1 } else { misses += 1 }
            evictions += memory.insert(value, for: key.digest)
        case .failure(let error):
            misses += 1
            computeFailures += 1
            logger.warning(
                "Conditioning computation failed; nothing cached",
                metadata: ["vox.cache.key": "\(key.digest)", "vox.engine": "\(key.engine)", "vox.error": "\(error)"]
            )
        }
    }

    private func noteDiscardedEntry() { discardedDiskEntries += 1 }
    private func noteDiskWriteFailure() { diskWriteFailures += 1 }
}
