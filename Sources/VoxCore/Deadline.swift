/// Runs `operation` until `deadline`: its value, or nil when the deadline came first. The
/// operation is cancelled then, and this returns once it has stopped. Its own errors are rethrown.
public func untilDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant, _ operation: @Sendable @escaping () async throws -> T
) async throws -> T? {
    try await withThrowingTaskGroup(of: Optional<T>.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            return nil
        }
        defer { group.cancelAll() }
        guard case .some(.some(let value)) = try await group.next() else { return nil }
        return value
    }
}
