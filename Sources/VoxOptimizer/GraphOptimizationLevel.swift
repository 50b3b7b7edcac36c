/// ONNX Runtime's graph optimization levels (`GraphOptimizationLevel` in the C API).
public enum GraphOptimizationLevel: String, Sendable, Hashable, Codable, CaseIterable {
    case disabled
    case basic
    case extended
    case all

    /// The value of the C enum (ORT_DISABLE_ALL 0, ORT_ENABLE_BASIC 1, ORT_ENABLE_EXTENDED 2, ORT_ENABLE_ALL 99).
    public var onnxRuntimeValue: Int32 {
        switch self {
        case .disabled: 0
        case .basic: 1
        case .extended: 2
        case .all: 99
        }
    }
}
