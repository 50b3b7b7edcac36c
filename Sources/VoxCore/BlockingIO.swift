import Dispatch

/// Runs blocking work (inference, file I/O) on a Dispatch queue, off Swift's cooperative pool,
/// so a long model run never holds up the async threads that serve other requests.
public func offload<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try body() })
        }
    }
}
