import Foundation

/// A dense tensor on the CPU: element type, shape and little-endian bytes.
public struct Tensor: Sendable, Equatable {
    public var elementType: TensorElementType
    public var shape: [Int]
    /// Raw element bytes, row-major.
    public var bytes: Data

    public init(elementType: TensorElementType, shape: [Int], bytes: Data) {
        precondition(shape.reduce(1, *) * elementType.size == bytes.count, "tensor bytes do not match shape \(shape)")
        self.elementType = elementType
        self.shape = shape
        self.bytes = bytes
    }

    public var count: Int { shape.reduce(1, *) }

    public init(float32 values: [Float], shape: [Int]) {
        self.init(elementType: .float32, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
    }

    public init(int64 values: [Int64], shape: [Int]) {
        self.init(elementType: .int64, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
    }

    public init(int32 values: [Int32], shape: [Int]) {
        self.init(elementType: .int32, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
    }

    public init(bool values: [Bool], shape: [Int]) {
        self.init(elementType: .bool, shape: shape, bytes: Data(values.map { $0 ? 1 : 0 }))
    }

    /// Stores float values as IEEE half precision.
    public init(float16 values: [Float], shape: [Int]) {
        let bits = values.map { Float16($0).bitPattern }
        self.init(elementType: .float16, shape: shape, bytes: bits.withUnsafeBytes { Data($0) })
    }

    /// The values as Float, converting float16, bfloat16, double and integer types.
    public func floats() -> [Float] {
        switch elementType {
        case .float32: return read(Float.self)
        case .float16: return read(UInt16.self).map { Float(Float16(bitPattern: $0)) }
        case .bfloat16: return read(UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
        case .double: return read(Double.self).map { Float($0) }
        case .int64: return read(Int64.self).map { Float($0) }
        case .int32: return read(Int32.self).map { Float($0) }
        case .bool, .uint8: return read(UInt8.self).map { Float($0) }
        case .int8: return read(Int8.self).map { Float($0) }
        case .other: return []
        }
    }

    /// The values as Int64, converting integer types.
    public func int64s() -> [Int64] {
        switch elementType {
        case .int64: return read(Int64.self)
        case .int32: return read(Int32.self).map { Int64($0) }
        case .bool, .uint8: return read(UInt8.self).map { Int64($0) }
        case .int8: return read(Int8.self).map { Int64($0) }
        default: return floats().map { Int64($0) }
        }
    }

    private func read<T>(_: T.Type) -> [T] {
        bytes.withUnsafeBytes { raw in Array(raw.bindMemory(to: T.self)) }
    }
}
