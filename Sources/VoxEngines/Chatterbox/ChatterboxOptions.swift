/// How a `ChatterboxEngine` samples, stops, streams and prepares references. Every field has a
/// default: upstream Chatterbox's own for the model loaded (Turbo or the original) where it has one.
public struct ChatterboxOptions: Sendable, Equatable {
    /// Sampling of speech tokens; nil samples as upstream does for the model loaded
    /// (`TokenSampler.turbo`, `TokenSampler.original`).
    public var sampler: TokenSampler?
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
    /// Decode each streamed chunk after the first while the language model generates the next.
    /// Off by default: on a CPU the two share the cores (the plan turns it on for CUDA).
    public var overlapDecoder: Bool = false

    /// Most sentences the language model decodes together, one run per step (continuous batching,
    /// `ChatterboxBatcher`): concurrent requests and the next sentence of a long one share each
    /// step. 1 generates each sentence alone, as before batching (the rollback). The execution plan
    /// sets it from the hardware; `--max-batch` overrides it.
    public var maxBatch: Int = 1
    /// While rows are decoding, a joining sentence's prefill runs at most this many positions
    /// between two of their steps, which bounds how long they stall.
    public var prefillChunkPositions: Int = 64
    /// Memory for the language model's cache of each voice's conditioning positions
    /// (`ChatterboxPrefixCache`): a sentence in a voice already heard then prefills only its text.
    /// 0 (the default, and `--no-optimize`) runs every prefill whole; the optimizer sets it.
    public var prefixCacheBytes: Int = 0
    /// Most decoder calls at once across the engine's streams, a stream's first chunk before others'
    /// later ones (`DecoderGate`); 0 (the default) lets every stream decode when it likes. The plan
    /// sets 1 on a CPU, where the decoder is bound by arithmetic.
    public var decoderConcurrency: Int = 0

    /// Benchmarks only: generate exactly `maxNewTokens` per sentence, never stopping on the stop
    /// token, so that runs on stand-ins with random weights (which never choose it) or on a real
    /// model are comparable token for token.
    public var ignoresStopToken: Bool = false

    /// Run the language model through ONNX Runtime's IO binding: the KV cache outputs are bound to
    /// the session's device (GPU memory on CUDA) and fed back from there; only the logits come to
    /// the host. The execution plan turns it on for CUDA entries.
    public var ioBinding: Bool = false

    /// Reference rules: longer than `referenceMinDuration` (Turbo asserts more than 5 s upstream),
    /// loudness-normalised to `referenceLUFS` (nil: as upstream for the model loaded, −27 LUFS for
    /// Turbo and none for the original), and cut at `referenceMaxDuration`. That cut is only a guard
    /// against very long uploads: upstream gives the whole clip to the voice encoder and the speech
    /// encoder graph takes its own crops (10 s for the decoder's prompt), so it must stay long.
    public var referenceMinDuration: Double
    public var referenceMaxDuration: Double
    public var referenceLUFS: Double?

    /// Turbo's reference loudness upstream (`norm_loudness=True`, pyloudnorm).
    public static let turboReferenceLUFS = -27.0

    /// The reference loudness for `flavor`: `referenceLUFS`, else upstream's (none for the original).
    public func referenceLUFS(for flavor: ChatterboxModelLayout.Flavor) -> Double? {
        referenceLUFS ?? (flavor == .turbo ? Self.turboReferenceLUFS : nil)
    }

    /// The sampler for `flavor`: `sampler`, else upstream's.
    public func sampler(for flavor: ChatterboxModelLayout.Flavor) -> TokenSampler {
        sampler ?? (flavor == .turbo ? .turbo : .original)
    }

    public init(
        sampler: TokenSampler? = nil, maxNewTokens: Int = 1000, cfgWeight: Float = 0.5, exaggeration: Float = 0.5,
        normalizeText: Bool = true, streamFirstChunkTokens: Int = 20, streamChunkTokens: Int = 50, streamOverlapTokens: Int = 10,
        crossfadeDuration: Double = 0.02, referenceMinDuration: Double = 5, referenceMaxDuration: Double = 60, referenceLUFS: Double? = nil
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
