import Foundation
import Testing
import VoxCore
@testable import VoxEngines

/// The decoder gate: one call at a time, a stream's first chunk ahead of later chunks waiting
/// before it, and a cancelled waiter leaves the queue without taking a place.
@Suite struct DecoderGateTests {
    /// Calls `body`'s order of entry; `hold` keeps the first call inside until released.
    final class Recorder: @unchecked Sendable {
        let order = Locked<[String]>([])
        let inside = Locked(0)
        let most = Locked(0)

        func enter(_ name: String) {
            order.withLock { $0.append(name) }
            let n = inside.withLock { value -> Int in
                value += 1
                return value
            }
            most.withLock { $0 = max($0, n) }
        }

        func leave() { inside.withLock { $0 -= 1 } }
    }

    static func waitUntil(_ condition: @escaping () -> Bool) async throws {
        for _ in 0..<2_000 where !condition() { try await Task.sleep(for: .milliseconds(1)) }
        try #require(condition())
    }

    @Test func aFirstChunkGoesAheadOfLaterChunksWaiting() async throws {
        let gate = DecoderGate(width: 1)
        let recorder = Recorder()
        let release = Locked(false)
        let holder = Task {
            try await gate.run(firstChunk: false) {
                recorder.enter("holder")
                while !release.get() { try await Task.sleep(for: .milliseconds(1)) }
                recorder.leave()
            }
        }
        try await Self.waitUntil { recorder.order.get() == ["holder"] }
        #expect(!gate.firstChunksPending)
        let later = Task { try await gate.run(firstChunk: false) { recorder.enter("later"); recorder.leave() } }
        try await Self.waitUntil { gate.counters.waited == 1 }
        let first = Task { try await gate.run(firstChunk: true) { recorder.enter("first"); recorder.leave() } }
        try await Self.waitUntil { gate.counters.waited == 2 }
        #expect(gate.firstChunksPending, "the batch holds while a first chunk waits")
        release.set(true)
        try await holder.value
        try await first.value
        try await later.value
        #expect(recorder.order.get() == ["holder", "first", "later"])
        #expect(recorder.most.get() == 1, "one call at a time")
        #expect(gate.counters.overtook == 1)
        #expect(!gate.firstChunksPending)
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        let gate = DecoderGate(width: 1)
        let release = Locked(false)
        let entered = Locked(false)
        let holder = Task {
            try await gate.run(firstChunk: false) {
                entered.set(true)
                while !release.get() { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
        try await Self.waitUntil { entered.get() }
        let cancelled = Task { try await gate.run(firstChunk: true) { "ran" } }
        try await Self.waitUntil { gate.counters.waited == 1 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(!gate.firstChunksPending)
        release.set(true)
        try await holder.value
        // The place was not lost: the next call runs at once.
        #expect(try await gate.run(firstChunk: false) { "next" } == "next")
    }
}
