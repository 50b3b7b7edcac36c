/// How a `ChatterboxEngine` samples, stops, streams and prepares references. Every field has a
/// default (Chatterbox Turbo's own where it has one).
public struct ChatterboxOptions: Sendable, Equatable {
    /// Sampling of speech tokens (temperature 0.8, top-k 1000, top-p 0.95, repetition penalty 1.2).
    public var sampler: TokenSampler
    /// Most speech tokens generated per sentence (25 tokens are one second).
    public var maxNewTokens: Int
    /// Classifier-free guidance weight for the original model (0 turns guidance off). Turbo has none.
    public var cfgWeight: Float
    /// Emotion exaggeration for the original model (0.5 is neutral). Turbo has none.
    public var exaggeration: Float
    /// Rewrite text as Chatterbox's `punc_norm` does (capital first letter, plain punctuation, final stop).
    public var normalizeText: Bool

    /// Sentences longer than this are split at commas, then spaces, before generation (`TextSegmenter`).
    public var maxSentenceCharacters: Int = 300

    /// Tokens in the first streamed chunk (small, so the first audio comes soon) and in later ones.
    public var streamFirstChunkTokens: Int
    public var streamChunkTokens: Int
    /// Tokens before a chunk that are decoded again with it, so the decoder sees context; half of
    /// them are held back from the previous chunk and taken from the next one. At least 6 are used.
    public var streamOverlapTokens: Int
    /// Length of the crossfade between two streamed chunks, in seconds.
    public var crossfadeDuration: Double

    /// Run the language model through ONNX Runtime's IO binding: the KV cache outputs are bound to
    /// the session's device (GPU memory on CUDA) and fed back from there; only the logits come to
    /// the host. The execution plan turns it on for CUDA entries.
    public var ioBinding: Bool = false

    /// Reference rules: longer than `referenceMinDuration`, loudness-normalised to `referenceLUFS`,
    /// only the first `referenceMaxDuration` seconds used.
    public var referenceMinDuration: Double
    public var referenceMaxDuration: Double
    public var referenceLUFS: Double

    public init(
        sampler: TokenSampler = TokenSampler(), maxNewTokens: Int = 1000, cfgWeight: Float = 0.5, exaggeration: Float = 0.5,
        normalizeText: Bool = true, streamFirstChunkTokens: Int = 20, streamChunkTokens: Int = 50, streamOverlapTokens: Int = 10,
        crossfadeDuration: Double = 0.02, referenceMinDuration: Double = 5, referenceMaxDuration: Double = 15, referenceLUFS: Double = -27
    ) {
        self.sampler = sampler
        self.maxNewTokens = maxNewTokens
        self.cfgWeight = cfgWeight
        self.exaggeration = exaggeration
        self.normalizeText = normalizeText
        self.streamFirstChunkTokens = streamFirstChunkTokens
        self.streamChunkTokens = streamChunkTokens
        self.streamOverlapTokens = streamOverlapTokens
        self.crossfadeDuration = crossfadeDuration
        self.referenceMinDuration = referenceMinDuration
        self.referenceMaxDuration = referenceMaxDuration
        self.referenceLUFS = referenceLUFS
    }
}
