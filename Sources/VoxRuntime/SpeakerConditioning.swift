import Foundation
import VoxAudio
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// The optimizer's cache is the engines' conditioning store: what a cloning engine computes from a
/// reference is kept in memory and on disk, keyed by the recording's content. The engine's tensors
/// are stored as they are; each call returns its own outcome.
extension ConditioningCache: SpeakerConditioningStore {
    public func conditioning(
        for reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String],
        compute: @escaping @Sendable () async throws -> [String: Tensor]
    ) async throws -> (tensors: [String: Tensor], outcome: ConditioningCacheOutcome) {
        let key = ConditioningKey(reference: reference, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
        return try await conditioning(for: key, compute: compute)
    }
}

/// Speaker embeddings of reference recordings, through the conditioning cache: a recording's
/// embedding is computed once per content (SHA-256 of its bytes), then served from memory or disk.
public final class SpeakerEmbedder: Sendable {
    public static let engineID = "resemblyzer"

    public let encoder: VoiceEncoder
    public let cache: ConditioningCache
    /// Identifies the encoder weights in cache keys (`ModelFingerprint` of the weights file).
    public let modelFingerprint: String
    private let decoder: AudioDecoder

    public init(weights: URL, cache: ConditioningCache, decoder: AudioDecoder = AudioDecoder()) throws {
        guard FileManager.default.fileExists(atPath: weights.path) else { throw VoxError.modelNotFound(weights.path) }
        self.encoder = try VoiceEncoder(contentsOf: weights)
        self.modelFingerprint = ModelFingerprint.of(weights)
        self.cache = cache
        self.decoder = decoder
    }

    /// The setup's Resemblyzer weights and the cache in `paths`.
    public convenience init(paths: VoxPaths, cache: ConditioningCache? = nil) throws {
        guard let weights = paths.resemblyzerWeights else {
            throw VoxError.modelNotFound("resemblyzer/pretrained.pt (run `make setup`)")
        }
        try self.init(weights: weights, cache: cache ?? ConditioningCache(configuration: ConditioningCacheConfiguration(paths: paths)))
    }

    /// The cache key of `reference`'s embedding: its content, this encoder's weights, the front end.
    public func key(for reference: VoiceReference) -> ConditioningKey {
        ConditioningKey(reference: reference, engine: Self.engineID, modelFingerprint: modelFingerprint, parameters: ["rate": "16000", "preprocess": "resemblyzer"])
    }

    /// The embedding of `reference` and whether the cache had it.
    public func embedding(for reference: VoiceReference) async throws -> (embedding: [Float], outcome: ConditioningCacheOutcome) {
        let (conditioning, outcome) = try await cache.conditioning(for: key(for: reference)) {
            try await self.compute(reference)
        }
        guard let tensor = conditioning["embedding"], tensor.elementType == .float32 else {
            throw VoxError.engineFailure("The cached speaker embedding has no float32 'embedding' tensor.")
        }
        return (tensor.floats(), outcome)
    }

    /// What a cache miss costs: decode, resample to 16 kHz, preprocess and embed, off the cooperative pool.
    public func compute(_ reference: VoiceReference) async throws -> Conditioning {
        let encoder = self.encoder
        let decoder = self.decoder
        let embedding = try await offload {
            let audio = try Resampler.resample(try decoder.decode(reference), to: VoiceEncoder.sampleRate)
            return try encoder.embed(encoder.preprocess(audio.samples))
        }
        return ["embedding": Tensor(float32: embedding, shape: [embedding.count])]
    }
}
