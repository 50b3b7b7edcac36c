/// Where ONNX Runtime runs a graph.
public enum ExecutionProvider: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case cpu
    case cuda

    /// The name ONNX Runtime's `GetAvailableProviders` uses.
    public var onnxRuntimeName: String {
        switch self {
        case .cpu: "CPUExecutionProvider"
        case .cuda: "CUDAExecutionProvider"
        }
    }

    public var description: String { rawValue }
}
