import Crypto
import Foundation
import Logging
import VoxCore
import VoxONNX

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

    /// The counters now, with the store's current size unless `includingStore` is false (the
    /// store's size costs a directory listing; the counters cost nothing).
    public func stats(includingStore: Bool = true) async -> ConditioningCacheStats {
        var usage = ConditioningStoreUsage(entries: 0, bytes: 0)
        if includingStore, let store {
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

    /// Store, then compute. Runs outside the actor except for the counter updates. With a store,
    /// the computation runs under the store's lock for the key (`exclusively`), and looks in the
    /// store once more first: another process sharing the store may have computed it meanwhile.
    private nonisolated func resolve(
        _ key: ConditioningKey, compute: @escaping @Sendable () async throws -> Conditioning
    ) async throws -> Answer {
        guard let store else { return (try await compute(), .miss) }
        if let stored = await load(key, from: store) { return (stored, .diskHit) }
        return try await store.exclusively(key) {
            if let stored = await self.load(key, from: store) { return (stored, .diskHit) }
            let computed = try await compute()
            do {
                try await store.save(computed, for: key)
            } catch {
                await self.noteDiskWriteFailure()
                self.logger.error(
                    "Cannot write conditioning cache entry; continuing without it",
                    metadata: ["vox.cache.key": "\(key.digest)", "vox.engine": "\(key.engine)", "vox.error": "\(error)"]
                )
            }
            return (computed, .miss)
        }
    }

    /// The store's entry, or nil when it has none or an unusable one (logged, and counted).
    private nonisolated func load(_ key: ConditioningKey, from store: any ConditioningStore) async -> Conditioning? {
        do {
            return try await store.load(key)
        } catch {
            await noteDiscardedEntry()
            logger.warning(
                "Conditioning cache entry unusable; recomputing",
                metadata: ["vox.cache.key": "\(key.digest)", "vox.engine": "\(key.engine)", "vox.error": "\(error)"]
            )
            return nil
        }
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

/// Identifies one conditioning: the SHA-256 of the reference recording's bytes, the engine, the
/// model files and the conditioning parameters, folded into one hex ``digest``.
///
/// The reference is hashed from its content every time a key is made (hashing a few MB costs
/// milliseconds), so a file that changes under the same name and size gets a new key, and the
/// same recording under two names or paths gets the same key. A file name or path never enters
/// the key; there is deliberately no initializer that takes one.
public struct ConditioningKey: Sendable, Hashable, CustomStringConvertible {
    /// Lowercase hex SHA-256 of the reference's encoded bytes.
    public let referenceSHA256: String
    /// Engine id, for example "chatterbox".
    public let engine: String
    /// ``SynthesizerInfo/modelFingerprint`` of the model that computes the conditioning.
    public let modelFingerprint: String
    /// Everything else that changes the result (sample rate, trim settings, exaggeration, …).
    public let parameters: [String: String]
    /// Lowercase hex SHA-256 over all of the above: the cache's key and the entry's file name.
    public let digest: String

    /// Hashes `referenceData` and builds the key.
    public init(referenceData: Data, engine: String, modelFingerprint: String, parameters: [String: String] = [:]) {
        self.init(
            referenceSHA256: Self.hex(SHA256.hash(data: referenceData)),
            engine: engine, modelFingerprint: modelFingerprint, parameters: parameters
        )
    }

    /// Hashes the reference's bytes (its label plays no part) and builds the key.
    public init(reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String] = [:]) {
        self.init(referenceData: reference.data, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
    }

    /// From fields that were hashed before: used when reading a cache entry's header back.
    init(referenceSHA256: String, engine: String, modelFingerprint: String, parameters: [String: String]) {
        self.referenceSHA256 = referenceSHA256
        self.engine = engine
        self.modelFingerprint = modelFingerprint
        self.parameters = parameters
        self.digest = Self.digest(
            referenceSHA256: referenceSHA256, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters
        )
    }

    public var description: String { "\(engine)/\(digest.prefix(12))" }

    /// SHA-256 over a length-prefixed encoding of every field, parameters sorted by the UTF-8
    /// bytes of their names, so that no two different keys share an encoding ("ab"+"c" vs "a"+"bc").
    static func digest(referenceSHA256: String, engine: String, modelFingerprint: String, parameters: [String: String]) -> String {
        var hasher = SHA256()
        func field(_ string: String) {
            let bytes = Array(string.utf8)
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        field("voxserve.conditioning-key.v1")
        field(referenceSHA256)
        field(engine)
        field(modelFingerprint)
        let sorted = parameters.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        field(String(sorted.count))
        for (name, value) in sorted {
            field(name)
            field(value)
        }
        return hex(hasher.finalize())
    }

    /// Lowercase hex SHA-256 of `data`: how a reference's content is named (in keys and in the voice library).
    public static func contentDigest(of data: Data) -> String { hex(SHA256.hash(data: data)) }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True for a 64-character lowercase hex string: what a digest looks like, and all a file name made from one can be.
    public static func isDigest(_ string: String) -> Bool {
        string.utf8.count == 64 && string.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// The memory tier of the ``ConditioningCache``: least-recently-used entries under a byte budget.
/// A dictionary plus a doubly linked list threaded through it by key, so a lookup, an insertion
/// and an eviction each cost O(1). A plain value type: the cache actor owns the only copy.
struct ConditioningMemoryTier {
    private struct Node {
        var value: Conditioning
        var bytes: Int
        /// Toward the least recently used end.
        var older: String?
        /// Toward the most recently used end.
        var newer: String?
    }

    let budgetBytes: Int
    private(set) var totalBytes = 0
    private var nodes: [String: Node] = [:]
    private var newest: String?
    private var oldest: String?

    init(budgetBytes: Int) {
        self.budgetBytes = max(0, budgetBytes)
    }

    var count: Int { nodes.count }

    /// Keys from most to least recently used.
    var keysByRecency: [String] {
        var keys: [String] = []
        var cursor = newest
        while let key = cursor {
            keys.append(key)
            cursor = nodes[key]?.older
        }
        return keys
    }

    /// The value for `key`, which becomes the most recently used.
    mutating func value(for key: String) -> Conditioning? {
        guard let node = nodes[key] else { return nil }
        unlink(key)
        linkAsNewest(key)
        return node.value
    }

    /// Stores `value` as the most recently used and evicts the least recently used entries until
    /// the budget holds. A value larger than the whole budget is not stored. Returns the number of
    /// entries evicted.
    @discardableResult
    mutating func insert(_ value: Conditioning, for key: String) -> Int {
        removeValue(for: key)
        let bytes = value.byteCount
        guard bytes <= budgetBytes else { return 0 }
        var evicted = 0
        while totalBytes + bytes > budgetBytes, let victim = oldest {
            removeValue(for: victim)
            evicted += 1
        }
        nodes[key] = Node(value: value, bytes: bytes, older: nil, newer: nil)
        linkAsNewest(key)
        totalBytes += bytes
        return evicted
    }

    mutating func removeValue(for key: String) {
        guard let node = nodes[key] else { return }
        unlink(key)
        nodes[key] = nil
        totalBytes -= node.bytes
    }

    mutating func removeAll() {
        nodes = [:]
        newest = nil
        oldest = nil
        totalBytes = 0
    }

    private mutating func unlink(_ key: String) {
        guard let node = nodes[key] else { return }
        if let older = node.older { nodes[older]?.newer = node.newer } else { oldest = node.newer }
        if let newer = node.newer { nodes[newer]?.older = node.older } else { newest = node.older }
        nodes[key]?.older = nil
        nodes[key]?.newer = nil
    }

    private mutating func linkAsNewest(_ key: String) {
        nodes[key]?.older = newest
        nodes[key]?.newer = nil
        if let previous = newest { nodes[previous]?.newer = key }
        newest = key
        if oldest == nil { oldest = key }
    }
}

/// How a ``ConditioningCache`` is set up. Every field has a default.
public struct ConditioningCacheConfiguration: Sendable, Equatable {
    /// 256 MiB.
    public static let defaultMemoryBudgetBytes = 256 * 1024 * 1024

    /// Folder of the disk tier (one file per entry); nil keeps entries in memory only.
    public var directory: URL?
    /// Most bytes of tensor data the memory tier holds; a larger entry is not kept in memory.
    public var memoryBudgetBytes: Int

    public init(directory: URL? = nil, memoryBudgetBytes: Int = ConditioningCacheConfiguration.defaultMemoryBudgetBytes) {
        self.directory = directory
        self.memoryBudgetBytes = memoryBudgetBytes
    }

    /// The disk tier in `paths.cacheDirectory` (`$VOXSERVE_CACHE_DIR`, default `$VOXSERVE_HOME/cache`).
    public init(paths: VoxPaths, memoryBudgetBytes: Int = ConditioningCacheConfiguration.defaultMemoryBudgetBytes) {
        self.init(directory: paths.cacheDirectory, memoryBudgetBytes: memoryBudgetBytes)
    }
}

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


/// What an engine computes from a voice reference and the ``ConditioningCache`` keeps: the
/// engine's own named tensors (for Chatterbox, the speech encoder's `audio_features`,
/// `audio_tokens`, `speaker_embeddings` and `speaker_features`).
public typealias Conditioning = [String: Tensor]

extension Dictionary where Key == String, Value == Tensor {
    /// Bytes held by all tensors' elements: what the memory budget counts.
    public var byteCount: Int { values.reduce(0) { $0 + $1.bytes.count } }
}
