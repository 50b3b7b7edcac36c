/// A numeric variant of a model file, as ONNX exports ship them side by side
/// (`language_model.onnx`, `language_model_fp16.onnx`, `language_model_q4.onnx`, …).
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

    /// The file-name suffix an export uses for this variant ("" for fp32).
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

    /// Splits an ONNX file name into component and precision: "language_model_q4f16.onnx" →
    /// ("language_model", .q4f16); "conditional_decoder.onnx" → ("conditional_decoder", .fp32).
    /// Nil for names that are not `.onnx` files.
    public static func parse(fileName: String) -> (component: String, precision: ModelPrecision)? {
        guard fileName.hasSuffix(".onnx") else { return nil }
        let stem = String(fileName.dropLast(".onnx".count))
        guard !stem.isEmpty else { return nil }
        // Longest suffix first, so "_q4f16" is not read as "_q4" plus "f16".
        let candidates = ModelPrecision.allCases.flatMap { p in p.fileSuffixes.filter { !$0.isEmpty }.map { (p, $0) } }
            .sorted { $0.1.count > $1.1.count }
        for (precision, suffix) in candidates where stem.hasSuffix(suffix) && stem.count > suffix.count {
            return (String(stem.dropLast(suffix.count)), precision)
        }
        return (stem, .fp32)
    }
}
