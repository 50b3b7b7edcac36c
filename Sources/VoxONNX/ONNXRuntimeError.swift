import VoxCore

/// An error reported by ONNX Runtime (an `OrtStatus`), or by loading the library.
public struct ONNXRuntimeError: Error, Sendable, CustomStringConvertible {
    /// ORT's `OrtErrorCode` value; -1 when the library could not be loaded at all.
    public let code: Int
    public let message: String

    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "ONNX Runtime error \(code): \(message)" }

    /// The same failure as a `VoxError`, for callers outside VoxONNX.
    public var voxError: VoxError {
        // ORT_NO_SUCHFILE = 3, ORT_INVALID_PROTOBUF = 7, ORT_INVALID_GRAPH = 10
        switch code {
        case 3: return VoxError(.modelNotFound, "ONNX model file not found: \(message)", detail: message)
        case 7, 10: return VoxError(.invalidModel, "The ONNX model cannot be loaded: \(message)", detail: message)
        default: return VoxError.engineFailure("ONNX Runtime failed: \(message)", detail: "code \(code)")
        }
    }
}
