import Foundation

/// A value (or error) set once by one task and awaited by another.
///
/// Thread safety: `lock` guards `result` and `waiters`; continuations resume outside it.
final class OneShot<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, any Error>?
    private var waiters: [CheckedContinuation<Value, any Error>] = []

    /// Sets the result; later calls are ignored.
    func resolve(_ result: Result<Value, any Error>) {
        let toResume: [CheckedContinuation<Value, any Error>] = lock.withLock {
            guard self.result == nil else { return [] }
            self.result = result
            defer { waiters = [] }
            return waiters
        }
        for waiter in toResume { waiter.resume(with: result) }
    }

    var isResolved: Bool { lock.withLock { result != nil } }

    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<Value, any Error>? = lock.withLock {
                    if let result { return result }
                    waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }
}
