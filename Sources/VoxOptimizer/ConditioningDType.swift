/// Element type of a ``ConditioningTensor``. The raw values are the dtype names safetensors uses,
/// and they are what a cache entry's JSON header stores.
public enum ConditioningDType: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case float32 = "F32"
    case int64 = "I64"
    /// IEEE 754 half precision, kept as raw 16-bit patterns (Swift's `Float16` is not available everywhere).
    case float16 = "F16"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .float32: 4
        case .int64: 8
        case .float16: 2
        }
    }
}
