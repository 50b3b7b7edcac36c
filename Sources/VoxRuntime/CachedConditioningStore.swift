import Foundation
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// The engines' conditioning store backed by the optimizer's `ConditioningCache`: what a cloning
/// engine computes from a reference is kept in memory and on disk, keyed by the recording's
/// content. The engine's tensors are stored as they are; each call returns its own outcome.
public struct CachedConditioningStore: SpeakerConditioningStore {
    public let cache: ConditioningCache

    public init(cache: ConditioningCache) {
        self.cache = cache
    }

    public func conditioning(
        for reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String],
        compute: @escaping @Sendable () async throws -> [String: Tensor]
    ) async throws -> (tensors: [String: Tensor], outcome: ConditioningCacheOutcome) {
        let key = ConditioningKey(reference: reference, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
        return try await cache.conditioning(for: key, compute: compute)
    }
}
