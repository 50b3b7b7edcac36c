import VoxCore
import VoxONNX

/// Copies positions between language-model KV caches, [rows, heads, positions, dim] each: how the
/// batch repacks its cache when a row joins or leaves, and how a voice's cached prefix is kept and
/// handed to a new sentence.
enum KVCachePositions {
    /// One row of the new cache: positions `start..<start + count` of row `row` of `value`.
    struct Piece {
        var value: ONNXValue?
        var row: Int
        var start: Int
        var count: Int
    }

    /// A new value [pieces.count, heads, length, dim] (heads, dim and element type from `template`)
    /// whose row r holds `pieces[r]`'s positions right-aligned; the columns before them are zero,
    /// the left padding that the attention mask hides. `name` is for the error. With a `gatherer`
    /// the copy runs on the language model's device (a cache in GPU memory stays there); without,
    /// on the host, which cannot read a value on a device.
    static func gather(
        _ pieces: [Piece], length: Int, like template: ONNXValue, name: String, runtime: ONNXRuntime, gatherer: KVCacheGatherer? = nil
    ) throws -> ONNXValue {
        if let gatherer { return try gatherer.gather(pieces, length: length, like: template, name: name) }
        let heads = template.shape[1]
        let dim = template.shape[3]
        let size = template.elementType.size
        return try ONNXValue(zerosOf: template.elementType, shape: [pieces.count, heads, length, dim], runtime: runtime) { out in
            for (r, piece) in pieces.enumerated() where piece.count > 0 {
                guard let value = piece.value, value.elementType == template.elementType else {
                    throw VoxError.invalidModel("The Chatterbox KV cache \(name) changed element type between rows.")
                }
                let from = value.shape[2]
                let bytesPerRun = piece.count * dim * size
                try value.withUnsafeBytes { bytes in
                    for h in 0..<heads {
                        let src = ((piece.row * heads + h) * from + piece.start) * dim * size
                        let dst = ((r * heads + h) * length + (length - piece.count)) * dim * size
                        out.baseAddress!.advanced(by: dst).copyMemory(from: bytes.baseAddress!.advanced(by: src), byteCount: bytesPerRun)
                    }
                }
            }
        }
    }
}
