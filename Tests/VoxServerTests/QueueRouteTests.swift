import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VoxServer

@Suite struct QueueRouteTests {
    @Test func aFullQueueAnswers429WithRetryAfter() async throws {
        let config = ServerConfiguration(maxConcurrentSyntheses: 1, maxQueuedRequests: 1, retryAfterSeconds: 3)
        try await makeApp(config, service: SlowSpeechService(delay: .milliseconds(600))).test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        let r = try await client.execute(
                            uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Hello", "response_format": "wav"]))
                        return (r.status, r.headers[.retryAfter])
                    }
                }
                var all: [(HTTPResponse.Status, String?)] = []
                for try await s in group { all.append(s) }
                return all
            }
            // One runs, one waits, the third finds no room.
            #expect(statuses.filter { $0.0 == .ok }.count == 2)
            let refused = statuses.filter { $0.0 == .tooManyRequests }
            #expect(refused.count == 1)
            #expect(refused.first?.1 == "3")
        }
    }

    @Test func aRequestThatRunsPastTheTimeoutIs504() async throws {
        let config = ServerConfiguration(requestTimeout: .milliseconds(300))
        // The engine would take ten minutes per request: it must be cancelled, not waited for.
        let slow = SlowSpeechService(delay: .seconds(600))
        try await makeApp(config, service: slow).test(.router) { client in
            let whole = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Hello"]))
            #expect(whole.status == .gatewayTimeout)
            #expect(try errorBody(whole).code == "timeout")
            let streamed = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Hello", "stream": true, "response_format": "wav"]))
            #expect(streamed.status == .gatewayTimeout)
            // Both syntheses were cancelled (checked directly, not by the clock: a full test run
            // on 2 cores can hold this test's threads for half a minute). Cancellation reaches the
            // engine just after the response, so wait for it, well short of the engine's ten minutes.
            let deadline = ContinuousClock.now + .seconds(300)
            while slow.cancelled.get() < 2 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(slow.cancelled.get() == 2)
        }
    }

    @Test func waitingRequestsRunWhenASlotFrees() async throws {
        let queue = SynthesisQueue(maxConcurrent: 1, maxWaiting: 2)
        let first = try await queue.acquire(until: .now + .seconds(5))
        let waiter = Task { try await queue.acquire(until: .now + .seconds(5)) }
        while queue.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(queue.active == 1)
        first.release()
        let second = try await waiter.value
        #expect(queue.active == 1)
        #expect(queue.waiting == 0)
        second.release()
        #expect(queue.active == 0)
    }

    @Test func aWaiterPastItsDeadlineGivesUpAndLeavesTheQueue() async throws {
        let queue = SynthesisQueue(maxConcurrent: 1, maxWaiting: 1)
        let held = try await queue.acquire(until: .now + .seconds(5))
        await #expect(throws: SynthesisQueue.Refusal.timedOut) {
            _ = try await queue.acquire(until: .now + .milliseconds(50))
        }
        #expect(queue.waiting == 0)
        held.release()
        #expect(queue.active == 0)
    }
}
