import Foundation
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// The engines' conditioning store backed by the optimizer's `ConditioningCache`: what a cloning
/// engine computes from a reference is kept in memory and on disk, keyed by the recording's content.
public struct CachedConditioningStore: SpeakerConditioningStore {
    public let cache: ConditioningCache
    private let outcomes = Locked<[String: ConditioningCacheOutcome]>([:])

    public init(cache: ConditioningCache) {
        self.cache = cache
    }

    /// How the last request for a recording, named by the SHA-256 of its bytes, was served, if any was.
    public func lastOutcome(referenceSHA256 digest: String) -> ConditioningCacheOutcome? {
        outcomes.withLock { $0[digest] }
    }

    public func conditioning(
        for reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String],
        compute: @escaping @Sendable () async throws -> [String: Tensor]
    ) async throws -> [String: Tensor] {
        let key = ConditioningKey(reference: reference, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
        let (conditioning, outcome) = try await cache.conditioning(for: key) {
            try Self.conditioning(from: try await compute())
        }
        outcomes.withLock { $0[key.referenceSHA256] = outcome }
        return try Self.tensors(from: conditioning)
    }

    static func conditioning(from tensors: [String: Tensor]) throws -> Conditioning {
        var out: [String: ConditioningTensor] = [:]
        for (name, tensor) in tensors {
            let dtype: ConditioningDType
            switch tensor.elementType {
            case .float32: dtype = .float32
            case .int64: dtype = .int64
            case .float16: dtype = .float16
            default:
                throw VoxError.engineFailure("Conditioning tensor '\(name)' has type \(tensor.elementType.rawValue), which the cache cannot store.")
            }
            out[name] = try ConditioningTensor(dtype: dtype, shape: tensor.shape, data: tensor.bytes)
        }
        return Conditioning(out)
    }

    static func tensors(from conditioning: Conditioning) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, t) in conditioning.tensors {
            let type: TensorElementType
            switch t.dtype {
            case .float32: type = .float32
            case .int64: type = .int64
            case .float16: type = .float16
            }
            out[name] = Tensor(elementType: type, shape: t.shape, bytes: t.data)
        }
        return out
    }
}
