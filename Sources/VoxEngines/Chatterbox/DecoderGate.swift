import Foundation

/// Lets at most `width` decoder calls run at once and, among those waiting, starts a stream's first
/// chunk before anyone's later chunks (then first come, first served).
///
/// On a CPU the speech decoder is bound by arithmetic: four streams' calls at once, each with its own
/// ONNX Runtime threads, share two cores four ways and all finish late, and a stream still waiting
/// for its first audio waits behind others' later chunks. One at a time, first chunks first, the
/// first audio of every stream comes as early as the cores allow. The plan sets `width` (1 on a
/// CPU; 0, no gate, on a GPU).
///
/// Thread safety: all state is behind `lock`; continuations are resumed outside it.
final class DecoderGate: @unchecked Sendable {
    let width: Int
    private let lock = NSLock()
    private var running = 0
    private var waiters: [(id: UInt64, first: Bool, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0
    private var firstChunks = 0
    private var waitedCount = 0
    private var overtookCount = 0

    /// Calls that had to wait, and those that went ahead of a later chunk queued before them.
    var counters: (waited: Int, overtook: Int) { lock.withLock { (waitedCount, overtookCount) } }

    /// First chunks waiting or being decoded: while there are any, the engine's batch holds its
    /// next step (`ChatterboxBatcher.holdWhile`), so that on a CPU the cores go to the audio a
    /// listener is waiting for rather than to tokens needed later.
    var firstChunksPending: Bool { lock.withLock { firstChunks > 0 } }

    init(width: Int) {
        self.width = max(1, width)
    }

    /// Runs `body` once a place is free; `firstChunk` puts it ahead of waiting later chunks.
    func run<T: Sendable>(firstChunk: Bool, _ body: @Sendable () async throws -> T) async throws -> T {
        if firstChunk { lock.withLock { firstChunks += 1 } }
        defer { if firstChunk { lock.withLock { firstChunks -= 1 } } }
        try await acquire(firstChunk: firstChunk)
        defer { release() }
        return try await body()
    }

    private func acquire(firstChunk: Bool) async throws {
        let id: UInt64? = lock.withLock {
            if running < width && waiters.isEmpty {
                running += 1
                return nil
            }
            nextID += 1
            waitedCount += 1
            return nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled: Bool = lock.withLock {
                    if Task.isCancelled { return true }
                    // A first chunk goes after the other first chunks, before every later chunk.
                    let place = firstChunk ? (waiters.firstIndex { !$0.first } ?? waiters.endIndex) : waiters.endIndex
                    if place < waiters.endIndex { overtookCount += 1 }
                    waiters.insert((id, firstChunk, continuation), at: place)
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, any Error>? = self.lock.withLock {
                guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return self.waiters.remove(at: index).continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Hands the place to the next waiter, or frees it.
    private func release() {
        let next: CheckedContinuation<Void, any Error>? = lock.withLock {
            if waiters.isEmpty {
                running -= 1
                return nil
            }
            return waiters.removeFirst().continuation  // the place passes on; `running` stays
        }
        next?.resume()
    }
}
