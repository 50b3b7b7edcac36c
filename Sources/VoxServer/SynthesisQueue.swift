import Foundation
import VoxCore

/// Bounds synthesis work: at most `maxConcurrent` run at once and at most `maxWaiting` wait for a
/// slot; a request beyond that is refused at once (the server answers 429 with `Retry-After`),
/// and a request that waits past its deadline gives up (504).
///
/// Thread safety: the slots are `AsyncSlots`; a permit's release is behind its own lock.
final class SynthesisQueue: Sendable {
    /// Held by a running synthesis; `release()` frees its slot (once; later calls do nothing).
    final class Permit: @unchecked Sendable {
        private let queue: SynthesisQueue
        private let lock = NSLock()
        private var released = false

        fileprivate init(queue: SynthesisQueue) { self.queue = queue }

        func release() {
            lock.lock()
            let first = !released
            released = true
            lock.unlock()
            if first { queue.slots.release() }
        }

        deinit { release() }
    }

    typealias Refusal = AsyncSlots.Refusal

    private let slots: AsyncSlots
    var maxConcurrent: Int { slots.width }
    var maxWaiting: Int { slots.maxWaiting }

    init(maxConcurrent: Int, maxWaiting: Int) {
        slots = AsyncSlots(width: maxConcurrent, maxWaiting: maxWaiting)
    }

    /// Syntheses running now.
    var active: Int { slots.running }
    /// Requests waiting for a slot now.
    var waiting: Int { slots.waiting }

    /// A slot, now or when one frees up before `deadline`.
    func acquire(until deadline: ContinuousClock.Instant) async throws -> Permit {
        try await slots.acquire(until: deadline)
        return Permit(queue: self)
    }
}

extension SynthesisQueue {
    /// A slot for a request of either protocol, HTTP or Wyoming: a refusal is counted in `metrics`
    /// and becomes the API's answer (429 with `Retry-After` when full, 504 past `deadline`).
    func permit(until deadline: ContinuousClock.Instant, timeout: Duration, retryAfter: Int, metrics: ServerMetrics) async throws -> Permit {
        do {
            return try await acquire(until: deadline)
        } catch Refusal.full {
            metrics.recordRejection()
            throw APIError.queueFull(retryAfter: retryAfter)
        } catch Refusal.timedOut {
            metrics.recordTimeout()
            throw APIError.timeout(after: timeout)
        }
    }
}
