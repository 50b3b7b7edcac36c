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
