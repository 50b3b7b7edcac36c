import VoxCore
import VoxONNX

/// What Chatterbox's speech encoder makes of a reference recording: the voice, ready to speak with.
/// This is what the conditioning store keeps.
public struct ChatterboxConditioning: Sendable, Equatable {
    /// [1, S, hidden]: put before the text's embeddings in the language model's first step.
    public var audioFeatures: Tensor
    /// [1, P] int64: the reference's own speech tokens, put before the generated ones for the decoder.
    public var audioTokens: Tensor
    /// [1, 192]: the speaker embedding (x-vector) for the decoder.
    public var speakerEmbeddings: Tensor
    /// [1, F, 80]: the reference's mel features for the decoder.
    public var speakerFeatures: Tensor

    public static let outputNames = ["audio_features", "audio_tokens", "speaker_embeddings", "speaker_features"]

    public init(audioFeatures: Tensor, audioTokens: Tensor, speakerEmbeddings: Tensor, speakerFeatures: Tensor) {
        self.audioFeatures = audioFeatures
        self.audioTokens = audioTokens
        self.speakerEmbeddings = speakerEmbeddings
        self.speakerFeatures = speakerFeatures
    }

    /// From the speech encoder's outputs (or a stored entry), checking ranks.
    public init(tensors: [String: Tensor]) throws {
        func take(_ name: String, rank: Int) throws -> Tensor {
            guard let t = tensors[name] else {
                throw VoxError.invalidModel("The Chatterbox speech encoder gave no '\(name)' output.")
            }
            guard t.shape.count == rank, t.shape.first == 1 else {
                throw VoxError.invalidModel("The Chatterbox speech encoder's '\(name)' has shape \(t.shape); expected rank \(rank) with batch 1.")
            }
            return t
        }
        self.init(
            audioFeatures: try take("audio_features", rank: 3),
            audioTokens: try take("audio_tokens", rank: 2),
            speakerEmbeddings: try take("speaker_embeddings", rank: 2),
            speakerFeatures: try take("speaker_features", rank: 3))
    }

    public var tensors: [String: Tensor] {
        [
            "audio_features": audioFeatures, "audio_tokens": audioTokens,
            "speaker_embeddings": speakerEmbeddings, "speaker_features": speakerFeatures,
        ]
    }

    /// Hidden size of the language model this conditioning was made for.
    public var hiddenSize: Int { audioFeatures.shape[2] }
    /// Number of conditioning positions.
    public var length: Int { audioFeatures.shape[1] }
}
