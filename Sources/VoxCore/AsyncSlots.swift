import Foundation

/// At most `width` holders at once; the others wait in line and a release hands the slot straight
/// to the first of them. A waiter may go `ahead` (after earlier waiters that went ahead, before the
/// rest), give up at a deadline, or be cancelled; a line longer than `maxWaiting` refuses at once.
/// The server's request queue (`SynthesisQueue`) and Chatterbox's decoder gate (`DecoderGate`) are
/// both this.
///
/// Thread safety: all state is behind `lock`; continuations are resumed outside it.
public final class AsyncSlots: @unchecked Sendable {
    public enum Refusal: Error, Equatable {
        /// Every slot and place in line is taken.
        case full
        /// The deadline passed while waiting.
        case timedOut
    }

    public let width: Int
    public let maxWaiting: Int

    private let lock = NSLock()
    private var holders = 0
    private var waiters: [(id: UInt64, ahead: Bool, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0
    private var waitedCount = 0
    private var overtookCount = 0

    public init(width: Int, maxWaiting: Int = .max) {
        self.width = max(1, width)
        self.maxWaiting = max(0, maxWaiting)
    }

    /// Slots held now.
    public var running: Int { lock.withLock { holders } }
    /// Callers waiting for a slot now.
    public var waiting: Int { lock.withLock { waiters.count } }
    /// Callers that had to wait, and those that went ahead of a waiter in line before them.
    public var counters: (waited: Int, overtook: Int) { lock.withLock { (waitedCount, overtookCount) } }

    /// Takes a slot, now or when one is handed over before `deadline`; `release()` gives it back.
    /// Throws `Refusal.full` when the line is full, `Refusal.timedOut` past the deadline and
    /// `CancellationError` when the task is cancelled while waiting.
    public func acquire(ahead: Bool = false, until deadline: ContinuousClock.Instant? = nil) async throws {
        let id: UInt64? = try lock.withLock {
            if holders < width && waiters.isEmpty {
                holders += 1
                return nil
            }
            guard waiters.count < maxWaiting else { throw Refusal.full }
            nextID += 1
            waitedCount += 1
            return nextID
        }
        guard let id else { return }

        // Wait, racing the deadline and cancellation.
        let timer = deadline.map { deadline in
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                self.abandon(id, with: Refusal.timedOut)
            }
        }
        defer { timer?.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let refusal: (any Error)? = lock.withLock {
                    if Task.isCancelled { return CancellationError() }
                    // Checked under the lock: a timer that fired before this point finds nothing to abandon.
                    if let deadline, ContinuousClock.now >= deadline { return Refusal.timedOut }
                    let place = ahead ? (waiters.firstIndex { !$0.ahead } ?? waiters.endIndex) : waiters.endIndex
                    if place < waiters.endIndex { overtookCount += 1 }
                    waiters.insert((id, ahead, continuation), at: place)
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            self.abandon(id, with: CancellationError())
        }
    }

    /// Hands the slot to the first waiter, or frees it.
    public func release() {
        let next: CheckedContinuation<Void, any Error>? = lock.withLock {
            if waiters.isEmpty {
                holders -= 1
                return nil
            }
            return waiters.removeFirst().continuation  // the slot passes on; `holders` stays
        }
        next?.resume()
    }

    /// Removes waiter `id` (if it is still waiting) and fails it.
    private func abandon(_ id: UInt64, with error: any Error) {
        let continuation: CheckedContinuation<Void, any Error>? = lock.withLock {
            guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return waiters.remove(at: index).continuation
        }
        continuation?.resume(throwing: error)
    }
}
