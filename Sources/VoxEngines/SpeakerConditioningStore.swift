import Foundation
import VoxCore
import VoxONNX

/// Where a cloning engine keeps the conditioning it computed from a reference recording, so one
/// voice is encoded once. The engine says what the entry depends on; the store decides how to key,
/// keep and evict it (VoxOptimizer's content-addressed cache is adapted to this protocol, and
/// `MemorySpeakerConditioningStore` is the default when none is injected).
public protocol SpeakerConditioningStore: Sendable {
    /// The conditioning for `reference` under `engine`, `modelFingerprint` and `parameters`:
    /// a stored entry, or what `compute` returns (which the store then keeps). Concurrent calls
    /// for one entry should run `compute` once. Returns where the entry came from with it.
    func conditioning(
        for reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String],
        compute: @escaping @Sendable () async throws -> [String: Tensor]
    ) async throws -> (tensors: [String: Tensor], outcome: ConditioningCacheOutcome)
}

/// A `SpeakerConditioningStore` in memory: entries keyed by the reference's bytes (never its
/// label), the engine, the model fingerprint and the parameters; least recently used entries go
/// first when more than `capacity` are kept. Concurrent requests for one entry compute it once.
public actor MemorySpeakerConditioningStore: SpeakerConditioningStore {
    struct Key: Hashable {
        let data: Data
        let engine: String
        let modelFingerprint: String
        let parameters: [String: String]
    }

    public let capacity: Int
    private var entries: [Key: [String: Tensor]] = [:]
    private var order: [Key] = []
    private var inFlight: [Key: Task<[String: Tensor], Error>] = [:]
    /// How many times an entry was computed (misses), and served from memory (hits).
    public private(set) var computed = 0
    public private(set) var hits = 0

    public init(capacity: Int = 32) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { entries.count }

    public func conditioning(
        for reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String],
        compute: @escaping @Sendable () async throws -> [String: Tensor]
    ) async throws -> (tensors: [String: Tensor], outcome: ConditioningCacheOutcome) {
        let key = Key(data: reference.data, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
        if let entry = entries[key] {
            hits += 1
            touch(key)
            return (entry, .memoryHit)
        }
        if let running = inFlight[key] {
            hits += 1
            return (try await running.value, .miss)
        }
        let task = Task { try await compute() }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        let value = try await task.value
        computed += 1
        entries[key] = value
        touch(key)
        while order.count > capacity {
            entries[order.removeFirst()] = nil
        }
        return (value, .miss)
    }

    private func touch(_ key: Key) {
        order.removeAll { $0 == key }
        order.append(key)
    }
}
