import CONNXRuntime

/// Element types VoxServe moves in and out of ONNX Runtime.
public enum TensorElementType: String, Sendable, Equatable, Codable {
    case float32, float16, int64, int32, bool, uint8, int8, bfloat16, double, other

    init(_ raw: ONNXTensorElementDataType) {
        switch raw {
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: self = .float32
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: self = .float16
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: self = .int64
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: self = .int32
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: self = .bool
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: self = .uint8
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: self = .int8
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: self = .bfloat16
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: self = .double
        default: self = .other
        }
    }

    var raw: ONNXTensorElementDataType {
        switch self {
        case .float32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT
        case .float16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16
        case .int64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64
        case .int32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32
        case .bool: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL
        case .uint8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8
        case .int8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8
        case .bfloat16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16
        case .double: return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE
        case .other: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED
        }
    }

    /// Every type whose elements are stored (all but `.other`).
    public static let allStored: [TensorElementType] = [.float32, .float16, .int64, .int32, .bool, .uint8, .int8, .bfloat16, .double]

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .int64, .double: return 8
        case .bool, .uint8, .int8: return 1
        case .other: return 0
        }
    }
}
