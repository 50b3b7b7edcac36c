import Foundation
import VoxCore

/// Lets at most `width` decoder calls run at once and, among those waiting, starts a stream's first
/// chunk before anyone's later chunks (then first come, first served).
///
/// On a CPU the speech decoder is bound by arithmetic: four streams' calls at once, each with its own
/// ONNX Runtime threads, share two cores four ways and all finish late, and a stream still waiting
/// for its first audio waits behind others' later chunks. One at a time, first chunks first, the
/// first audio of every stream comes as early as the cores allow. The plan sets `width` (1 on a
/// CPU; 0, no gate, on a GPU).
///
/// Thread safety: the slots (`AsyncSlots`) and the count of first chunks are each behind a lock.
final class DecoderGate: Sendable {
    private let slots: AsyncSlots
    private let firstChunks = Locked(0)

    var width: Int { slots.width }

    /// Calls that had to wait, and those that went ahead of a later chunk queued before them.
    var counters: (waited: Int, overtook: Int) { slots.counters }

    /// First chunks waiting or being decoded: while there are any, the engine's batch holds its
    /// next step (`ChatterboxBatcher.holdWhile`), so that on a CPU the cores go to the audio a
    /// listener is waiting for rather than to tokens needed later.
    var firstChunksPending: Bool { firstChunks.get() > 0 }

    init(width: Int) {
        slots = AsyncSlots(width: width)
    }

    /// Runs `body` once a place is free; `firstChunk` puts it ahead of waiting later chunks (after
    /// other first chunks).
    func run<T: Sendable>(firstChunk: Bool, _ body: @Sendable () async throws -> T) async throws -> T {
        if firstChunk { firstChunks.withLock { $0 += 1 } }
        defer { if firstChunk { firstChunks.withLock { $0 -= 1 } } }
        try await slots.acquire(ahead: firstChunk)
        defer { slots.release() }
        return try await body()
    }
}
