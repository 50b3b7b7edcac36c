/// What an engine computes from a voice reference and the ``ConditioningCache`` keeps: named
/// tensors (for Chatterbox, the speech encoder's `audio_features`, `audio_tokens`,
/// `speaker_embeddings` and `speaker_features`).
public struct Conditioning: Sendable, Equatable, Hashable {
    public let tensors: [String: ConditioningTensor]

    public init(_ tensors: [String: ConditioningTensor]) {
        self.tensors = tensors
    }

    public subscript(name: String) -> ConditioningTensor? { tensors[name] }

    /// Tensor names in a stable (sorted) order.
    public var names: [String] { tensors.keys.sorted() }

    /// Bytes held by all tensors' elements: what the memory budget counts.
    public var byteCount: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }
}
