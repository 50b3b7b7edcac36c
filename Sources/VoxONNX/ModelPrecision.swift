/// One ONNX graph of a model, by the name its files carry: Piper has one (`model`), Chatterbox
/// four (`speech_encoder`, `embed_tokens`, `language_model`, `conditional_decoder`). The plan, the
/// engines and the file layouts all name graphs with this type.
public struct ModelComponentID: RawRepresentable, Sendable, Hashable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (a: ModelComponentID, b: ModelComponentID) -> Bool { a.rawValue < b.rawValue }

    /// A Piper voice's single VITS graph.
    public static let piperModel: ModelComponentID = "model"
    /// Chatterbox: reference audio → voice conditioning.
    public static let speechEncoder: ModelComponentID = "speech_encoder"
    /// Chatterbox: token ids → embeddings.
    public static let embedTokens: ModelComponentID = "embed_tokens"
    /// Chatterbox: the autoregressive speech-token model with a KV cache.
    public static let languageModel: ModelComponentID = "language_model"
    /// Chatterbox: speech tokens + speaker conditioning → 24 kHz waveform.
    public static let conditionalDecoder: ModelComponentID = "conditional_decoder"
}

/// A numeric variant of a model file, as ONNX exports ship them side by side
/// (`language_model.onnx`, `language_model_fp16.onnx`, `language_model_q4.onnx`, …).
/// `allCases` runs from the most to the least precise as an export lists them.
public enum ModelPrecision: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case fp32
    case fp16
    case bf16
    /// 8-bit integer weights (dynamic quantization; exported as `_quantized` or `_int8`).
    case int8
    /// 4-bit block-quantized weights with fp32 activations (`MatMulNBits`).
    case q4
    /// 4-bit block-quantized weights with fp16 activations.
    case q4f16

    public var description: String { rawValue }

    /// The file-name suffixes an export uses for this variant ("" for fp32), the usual one first.
    public var fileSuffixes: [String] {
        switch self {
        case .fp32: [""]
        case .fp16: ["_fp16"]
        case .bf16: ["_bf16"]
        case .int8: ["_quantized", "_int8"]
        case .q4: ["_q4"]
        case .q4f16: ["_q4f16"]
        }
    }

    /// The file names `component` may have in this precision, the usual one first.
    public func fileNames(for component: ModelComponentID) -> [String] {
        fileSuffixes.map { component.rawValue + $0 + ".onnx" }
    }
}
