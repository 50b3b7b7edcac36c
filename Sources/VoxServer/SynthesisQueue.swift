import Foundation

/// Bounds synthesis work: at most `maxConcurrent` run at once and at most `maxWaiting` wait for a
/// slot; a request beyond that is refused at once (the server answers 429 with `Retry-After`),
/// and a request that waits past its deadline gives up (504).
///
/// Thread safety: all state is behind `lock`; continuations are resumed outside it.
final class SynthesisQueue: @unchecked Sendable {
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
            if first { queue.releaseSlot() }
        }

        deinit { release() }
    }

    enum Refusal: Error, Equatable {
        /// Every slot and queue place is taken.
        case full
        /// The deadline passed while waiting.
        case timedOut
    }

    let maxConcurrent: Int
    let maxWaiting: Int

    private let lock = NSLock()
    private var running = 0
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0

    init(maxConcurrent: Int, maxWaiting: Int) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxWaiting = max(0, maxWaiting)
    }

    /// Syntheses running now.
    var active: Int { lock.withLock { running } }
    /// Requests waiting for a slot now.
    var waiting: Int { lock.withLock { waiters.count } }

    /// A slot, now or when one frees up before `deadline`.
    func acquire(until deadline: ContinuousClock.Instant) async throws -> Permit {
        let id: UInt64? = try lock.withLock {
            if running < maxConcurrent && waiters.isEmpty {
                running += 1
                return nil
            }
            guard waiters.count < maxWaiting else { throw Refusal.full }
            nextID += 1
            return nextID
        }
        guard let id else { return Permit(queue: self) }

        // Wait, racing the deadline and cancellation.
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            self.abandon(id, with: Refusal.timedOut)
        }
        defer { timer.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let refusal: (any Error)? = lock.withLock {
                    if Task.isCancelled { return CancellationError() }
                    // Checked under the lock: a timer that fired before this point finds nothing to abandon.
                    if ContinuousClock.now >= deadline { return Refusal.timedOut }
                    waiters.append((id, continuation))
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            self.abandon(id, with: CancellationError())
        }
        return Permit(queue: self)
    }

    /// Removes waiter `id` (if it is still waiting) and fails it.
    private func abandon(_ id: UInt64, with error: any Error) {
        let continuation: CheckedContinuation<Void, any Error>? = lock.withLock {
            guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return waiters.remove(at: index).continuation
        }
        continuation?.resume(throwing: error)
    }

    /// Hands the slot to the first waiter, or frees it.
    fileprivate func releaseSlot() {
        let next: CheckedContinuation<Void, any Error>? = lock.withLock {
            if waiters.isEmpty {
                running -= 1
                return nil
            }
            return waiters.removeFirst().continuation  // the slot passes on; `running` stays
        }
        next?.resume()
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
