/// Element types that weight files store and that can be widened to Float.
enum StoredElementType: Sendable, Equatable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// Reads element `index` (little-endian) at `base` and widens it to Float.
    @inline(__always)
    func load(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        switch self {
        case .float32:
            return Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
        case .float64:
            return Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))))
        case .float16:
            return Self.halfToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
        case .bfloat16:
            let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            return Float(bitPattern: UInt32(bits) << 16)
        case .int64:
            return Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
        case .int32:
            return Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
        case .int16:
            return Float(Int16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)))
        case .int8:
            return Float(base.load(fromByteOffset: index, as: Int8.self))
        case .uint8, .bool:
            return Float(base.load(fromByteOffset: index, as: UInt8.self))
        }
    }

    /// IEEE 754 binary16 to binary32, subnormals, infinities and NaN included
    /// (written out so that it builds where Swift's Float16 is unavailable).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // zero or subnormal: mantissa * 2^-24
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
