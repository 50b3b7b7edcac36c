/// Reads the chunk headers of a RIFF WAVE file. libsndfile quietly shortens a WAV whose data
/// chunk is cut off; this finds the cut so that a truncated upload is reported, not half-used.
enum RIFFScanner {
    struct DataChunk: Equatable {
        /// The size the header declares, in bytes.
        var declaredSize: UInt32
        /// The bytes actually present after the chunk header.
        var availableSize: Int

        /// True when the header promises more bytes than the file holds. 0xFFFFFFFF and 0 are
        /// what streaming writers put when the length is unknown, so they promise nothing.
        var isTruncated: Bool {
            declaredSize != UInt32.max && declaredSize != 0 && Int(declaredSize) > availableSize
        }
    }

    /// The `data` chunk of a little-endian RIFF WAVE file, or nil when `bytes` is not one or the
    /// chunk headers run out before `data`.
    static func dataChunk(in bytes: [UInt8]) -> DataChunk? {
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            return nil
        }
        var offset = 12
        while offset + 8 <= bytes.count {
            let size = UInt32(bytes[offset + 4]) | UInt32(bytes[offset + 5]) << 8
                | UInt32(bytes[offset + 6]) << 16 | UInt32(bytes[offset + 7]) << 24
            if bytes[offset..<offset + 4].elementsEqual("data".utf8) {
                return DataChunk(declaredSize: size, availableSize: bytes.count - offset - 8)
            }
            // Chunks are padded to an even length.
            offset += 8 + Int(size) + Int(size & 1)
        }
        return nil
    }
}
