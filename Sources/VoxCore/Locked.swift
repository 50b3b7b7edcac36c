import Foundation

/// A value shared between threads, every access under one lock: counters, logs and lazily made
/// resources that synchronous code (`SpeechSynthesizer.info`, blocking engine calls) must reach
/// without `await`.
///
/// Thread safety: `value` is only touched inside `withLock`, which holds `lock`.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value, holding the lock.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    public func get() -> Value { withLock { $0 } }

    public func set(_ newValue: Value) { withLock { $0 = newValue } }
}
