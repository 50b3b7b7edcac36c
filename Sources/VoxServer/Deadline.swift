/// Runs `operation`, throwing `APIError.timeout` when it has not finished by `deadline`.
/// The operation is cancelled then, and this returns once it has stopped.
func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant, timeout: Duration, _ operation: @Sendable @escaping () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Optional<T>.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            return nil
        }
        defer { group.cancelAll() }
        guard case .some(.some(let value)) = try await group.next() else {
            throw APIError.timeout(after: timeout)
        }
        return value
    }
}
