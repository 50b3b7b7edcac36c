import Foundation

/// Float samples to signed 16-bit integers: clipped to [-1, 1], scaled by 32768 (the inverse of
/// libsndfile's read scaling, so a round trip is within half a step), NaN written as silence.
enum PCM16 {
    static func sample(_ x: Float) -> Int16 {
        guard !x.isNaN else { return 0 }
        let clipped = min(max(x, -1), 1)
        return Int16(clamping: Int((clipped * 32768).rounded()))
    }

    static func samples(_ samples: [Float]) -> [Int16] {
        samples.map(sample)
    }

    /// The samples as little-endian bytes, two per sample.
    static func littleEndianBytes(_ samples: [Float]) -> Data {
        var bytes = [UInt8](repeating: 0, count: samples.count * 2)
        for (i, x) in samples.enumerated() {
            let v = UInt16(bitPattern: sample(x))
            bytes[2 * i] = UInt8(truncatingIfNeeded: v)
            bytes[2 * i + 1] = UInt8(truncatingIfNeeded: v >> 8)
        }
        return Data(bytes)
    }
}
