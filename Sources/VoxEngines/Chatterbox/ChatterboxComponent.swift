/// The four graphs of a Chatterbox ONNX export.
public enum ChatterboxComponent: String, CaseIterable, Sendable, Codable {
    /// Reference audio → voice conditioning.
    case speechEncoder = "speech_encoder"
    /// Token ids → embeddings.
    case embedTokens = "embed_tokens"
    /// The autoregressive speech-token model with a KV cache.
    case languageModel = "language_model"
    /// Speech tokens + speaker conditioning → 24 kHz waveform.
    case conditionalDecoder = "conditional_decoder"
}
