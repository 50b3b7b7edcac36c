import VoxCore
import VoxONNX

/// The language model's KV cache for a voice's conditioning positions, kept per voice, so that a
/// sentence in a voice already heard prefills only its text.
///
/// Every first step feeds `[conditioning, text]`. The model is causal, so the keys and values of the
/// conditioning positions do not depend on the text after them: they are the same for every
/// sentence in that voice. The first sentence in a voice runs the whole prefill as before and this
/// cache keeps its first `conditioning.length` positions (a copy of row 0, no extra run); later
/// sentences start from that copy at position `conditioning.length`. On the full-size stand-in that
/// is most of the prefill (the conditioning is about ten times longer than a sentence's text).
///
/// Entries are matched on the conditioning's own features (compared in full on a hit, so two voices
/// never share one) and evicted least recently used beyond `capacityBytes`. Each is about
/// 192 KiB per position for the Turbo language model in fp32 (24 layers × key and value × 16 heads
/// × 64 × 4 bytes).
///
/// Thread-safety: entries are immutable `ONNXValue`s (read-only once made, safe to feed to several
/// runs at once) behind a lock.
final class ChatterboxPrefixCache: Sendable {
    struct Entry: Sendable {
        /// The conditioning's `audioFeatures`: what a lookup must equal.
        let features: Tensor
        /// `past_key_values.*` for one row and `length` positions.
        let cache: [String: ONNXValue]
        let length: Int
        let bytes: Int
    }

    struct Counters: Sendable, Equatable {
        var hits = 0
        var misses = 0
        var evictions = 0
    }

    let capacityBytes: Int
    private let state = Locked<(entries: [Entry], counters: Counters)>(([], Counters()))

    init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    var counters: Counters { state.withLock { $0.counters } }
    var count: Int { state.withLock { $0.entries.count } }

    /// The cached positions for `conditioning`, made most recently used; nil on a miss.
    func lookup(_ conditioning: ChatterboxConditioning) -> Entry? {
        state.withLock { state in
            guard let index = state.entries.lastIndex(where: { $0.features == conditioning.audioFeatures }) else {
                state.counters.misses += 1
                return nil
            }
            let entry = state.entries.remove(at: index)
            state.entries.append(entry)
            state.counters.hits += 1
            return entry
        }
    }

    /// Keeps the first `conditioning.length` positions of row 0 of `cache` (a prefill's
    /// `present.*`, as the next step's `past_key_values.*`) for `conditioning`.
    /// With a `gatherer` the copy is made on the language model's device (GPU memory, with IO
    /// binding); without, on the host, and a cache on a device is not kept.
    func store(_ conditioning: ChatterboxConditioning, from cache: [String: ONNXValue], runtime: ONNXRuntime, gatherer: KVCacheGatherer? = nil) throws {
        let length = conditioning.length
        guard capacityBytes > 0, length > 0 else { return }
        var kept: [String: ONNXValue] = [:]
        var bytes = 0
        for (name, value) in cache {
            guard gatherer != nil || !value.isOnDevice, value.shape.count == 4, value.shape[2] >= length else { return }
            kept[name] = try Self.firstPositions(of: value, rows: 1, length: length, name: name, runtime: runtime, gatherer: gatherer)
            bytes += length * value.shape[1] * value.shape[3] * value.elementType.size
        }
        guard bytes <= capacityBytes else { return }
        let entry = Entry(features: conditioning.audioFeatures, cache: kept, length: length, bytes: bytes)
        state.withLock { state in
            state.entries.removeAll { $0.features == entry.features }
            state.entries.append(entry)
            var total = state.entries.reduce(0) { $0 + $1.bytes }
            while total > capacityBytes, let oldest = state.entries.first {
                state.entries.removeFirst()
                total -= oldest.bytes
                state.counters.evictions += 1
            }
        }
    }

    /// The entry's cache with its single row repeated for `rows` rows (classifier-free guidance's
    /// two rows share the conditioning); the entry's own values when one row is wanted.
    static func cache(_ entry: Entry, rows: Int, runtime: ONNXRuntime, gatherer: KVCacheGatherer? = nil) throws -> [String: ONNXValue] {
        guard rows > 1 else { return entry.cache }
        var repeated: [String: ONNXValue] = [:]
        for (name, value) in entry.cache {
            repeated[name] = try firstPositions(of: value, rows: rows, length: entry.length, name: name, runtime: runtime, gatherer: gatherer)
        }
        return repeated
    }

    /// A new [rows, heads, length, dim] value whose every row holds the first `length` positions of
    /// row 0 of `value` ([_, heads, ≥ length, dim]).
    private static func firstPositions(
        of value: ONNXValue, rows: Int, length: Int, name: String, runtime: ONNXRuntime, gatherer: KVCacheGatherer?
    ) throws -> ONNXValue {
        let piece = KVCachePositions.Piece(value: value, row: 0, start: 0, count: length)
        return try KVCachePositions.gather(
            Array(repeating: piece, count: rows), length: length, like: value, name: name, runtime: runtime, gatherer: gatherer)
    }
}
