import Foundation
import VoxCore

/// One tensor of a ``Conditioning``: an element type, a shape and the elements as little-endian
/// bytes in row-major order. A value type, so it is `Sendable` and cheap to copy (the bytes are
/// shared copy-on-write).
public struct ConditioningTensor: Sendable, Equatable, Hashable {
    public let dtype: ConditioningDType
    public let shape: [Int]
    /// The elements, little-endian, row-major; exactly `elementCount * dtype.byteWidth` bytes.
    public let data: Data

    /// Wraps raw little-endian bytes. Throws when a dimension is negative or the byte count does
    /// not match the shape.
    public init(dtype: ConditioningDType, shape: [Int], data: Data) throws {
        guard let count = Self.elementCount(of: shape) else {
            throw VoxError.invalidInput("A conditioning tensor shape must have non-negative dimensions (got \(shape)).")
        }
        let needed = count.multipliedReportingOverflow(by: dtype.byteWidth)
        guard !needed.overflow, needed.partialValue == data.count else {
            throw VoxError.invalidInput(
                "A \(dtype.rawValue) tensor of shape \(shape) needs \(count * dtype.byteWidth) bytes, not \(data.count)."
            )
        }
        self.dtype = dtype
        self.shape = shape
        // A Data slice keeps its parent's indices; store a zero-based copy so readers can index from 0.
        self.data = data.startIndex == 0 ? data : data.subdata(in: data.startIndex..<data.endIndex)
    }

    public init(float32 values: [Float], shape: [Int]) throws {
        try self.init(dtype: .float32, shape: shape, data: Self.littleEndianBytes(values.map(\.bitPattern)))
    }

    public init(int64 values: [Int64], shape: [Int]) throws {
        try self.init(dtype: .int64, shape: shape, data: Self.littleEndianBytes(values))
    }

    /// Half-precision elements given as their IEEE 754 bit patterns.
    public init(float16Bits values: [UInt16], shape: [Int]) throws {
        try self.init(dtype: .float16, shape: shape, data: Self.littleEndianBytes(values))
    }

    /// Product of the dimensions (1 for a scalar's empty shape).
    public var elementCount: Int { data.count / dtype.byteWidth }

    /// Bytes held by the elements.
    public var byteCount: Int { data.count }

    public func float32Values() throws -> [Float] {
        try expect(.float32)
        return (Self.values(from: data) as [UInt32]).map(Float.init(bitPattern:))
    }

    public func int64Values() throws -> [Int64] {
        try expect(.int64)
        return Self.values(from: data)
    }

    public func float16Bits() throws -> [UInt16] {
        try expect(.float16)
        return Self.values(from: data)
    }

    private func expect(_ wanted: ConditioningDType) throws {
        guard dtype == wanted else {
            throw VoxError.invalidInput("This conditioning tensor holds \(dtype.rawValue) elements, not \(wanted.rawValue).")
        }
    }

    /// nil when a dimension is negative or the product overflows.
    static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> Data {
        #if _endian(little)
        return values.withUnsafeBytes { Data($0) }
        #else
        return values.map(\.littleEndian).withUnsafeBytes { Data($0) }
        #endif
    }

    private static func values<T: FixedWidthInteger>(from data: Data) -> [T] {
        var values = [T](repeating: 0, count: data.count / MemoryLayout<T>.size)
        _ = values.withUnsafeMutableBufferPointer { data.copyBytes(to: $0) }
        #if _endian(big)
        values = values.map { T(littleEndian: $0) }
        #endif
        return values
    }
}
