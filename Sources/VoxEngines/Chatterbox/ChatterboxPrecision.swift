/// A precision variant of a Chatterbox graph, as the export names its files:
/// `language_model.onnx` (fp32), `language_model_fp16.onnx`, `_q4`, `_q4f16`, `_quantized` (int8).
public enum ChatterboxPrecision: String, CaseIterable, Sendable, Codable, Comparable {
    case fp32, fp16, q4, q4f16, quantized

    /// What follows the component's name in the file name.
    public var fileSuffix: String {
        self == .fp32 ? "" : "_" + rawValue
    }

    /// The file name of `component` in this precision.
    public func fileName(for component: ChatterboxComponent) -> String {
        component.rawValue + fileSuffix + ".onnx"
    }

    public static func < (a: ChatterboxPrecision, b: ChatterboxPrecision) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
