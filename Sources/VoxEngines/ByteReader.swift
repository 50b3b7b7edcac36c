import VoxCore

/// A bounds-checked little-endian cursor over a byte buffer that outlives it.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int
    /// Names the file in error messages.
    let source: String

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, source: String) {
        self.bytes = bytes
        self.offset = offset
        self.source = source
    }

    var remaining: Int { bytes.count - offset }

    func truncated(_ what: String) -> VoxError {
        VoxError.invalidModel("\(source) is truncated or corrupt: it ends inside \(what) (offset \(offset)).", path: source)
    }

    mutating func skip(_ count: Int, _ what: String) throws {
        guard count >= 0, count <= remaining else { throw truncated(what) }
        offset += count
    }

    mutating func byte(_ what: String) throws -> UInt8 {
        guard remaining >= 1 else { throw truncated(what) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bytes(_ count: Int, _ what: String) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw truncated(what) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Unsigned little-endian integer of `size` bytes (at most 8).
    mutating func unsigned(_ size: Int, _ what: String) throws -> UInt64 {
        guard size <= remaining else { throw truncated(what) }
        var value: UInt64 = 0
        for i in 0..<size { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += size
        return value
    }

    mutating func int64(_ what: String) throws -> Int64 { Int64(bitPattern: try unsigned(8, what)) }

    mutating func int32(_ what: String) throws -> Int32 { Int32(truncatingIfNeeded: try unsigned(4, what)) }

    /// Bytes up to (not including) the next newline, which is consumed.
    mutating func line(_ what: String) throws -> [UInt8] {
        var end = offset
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else { throw truncated(what) }
        defer { offset = end + 1 }
        return Array(bytes[offset..<end])
    }
}
