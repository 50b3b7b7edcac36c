import Foundation

/// A value read synchronously from any thread and written rarely (the active engine's info, which
/// `SpeechSynthesizer.info` must return without `await`).
///
/// Thread safety: every access to `value` goes through `lock`.
final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func get() -> Value {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set(_ newValue: Value) {
        lock.lock()
        defer { lock.unlock() }
        value = newValue
    }
}
