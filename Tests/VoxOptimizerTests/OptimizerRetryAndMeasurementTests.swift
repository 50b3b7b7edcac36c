import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxOptimizer

/// An engine that fails with `error` for its first `failures` calls (counted across every engine
/// built for the same entry), then speaks; it takes `delay` per call on `clock` and reports `placement`.
final class FlakyEngine: SpeechSynthesizer, SessionPlacementReporting, @unchecked Sendable {
    let info: SynthesizerInfo
    let calls: Locked<Int>
    let failures: Int
    let error: VoxError
    let delay: Duration
    let clock: ManualClock?
    let sessionPlacements: [String: SessionPlacement]

    init(label: String, calls: Locked<Int>, failures: Int = 0, error: VoxError = .engineFailure("CUDA failure 2: out of memory"),
         delay: Duration = .zero, clock: ManualClock? = nil, placement: SessionPlacement? = nil) {
        self.info = SynthesizerInfo(engine: "test", voice: label, sampleRate: 16_000)
        self.calls = calls
        self.failures = failures
        self.error = error
        self.delay = delay
        self.clock = clock
        self.sessionPlacements = placement.map { ["vits": $0] } ?? [:]
    }

    func synthesize(_ request: SynthesisRequest) async throws -> AudioBuffer {
        let n = calls.withLock { count -> Int in
            count += 1
            return count
        }
        if let clock { clock.advance(by: delay) } else if delay > .zero { try await Task.sleep(for: delay) }
        if n <= failures { throw error }
        return TestEngine.tone()
    }
}

/// A clock that moves only when told: the time an engine "takes" is exactly its `delay`, however
/// loaded the machine running the tests is.
final class ManualClock: Clock, Sendable {
    typealias Instant = ContinuousClock.Instant
    private let origin = ContinuousClock.now
    private let elapsed = Locked(Duration.zero)

    var now: Instant { origin.advanced(by: elapsed.get()) }
    var minimumResolution: Duration { .nanoseconds(1) }

    func advance(by duration: Duration) { elapsed.withLock { $0 += duration } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let target = origin.duration(to: deadline)
        elapsed.withLock { $0 = max($0, target) }
    }
}

@Suite struct OptimizerRetryAndMeasurementTests {
    let gpuMachine = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])

    func piperPlan(provider: ExecutionProvider? = nil) throws -> ExecutionPlan {
        try ExecutionPlanner().plan(hardware: gpuMachine, inventory: Fixtures.piper, overrides: PlanOverrides(provider: provider))
    }

    @Test("a transient out-of-memory is retried on the same entry: CUDA is not retired")
    func transientRetriedInPlace() async throws {
        let plan = try piperPlan(provider: .cuda)
        let calls = Locked(0)
        let synthesizer = OptimizedSynthesizer(plan: plan, retryPolicy: RetryPolicy(retriesOnSameEntry: 2, retryDelay: .milliseconds(1))) { entry in
            FlakyEngine(label: entry.label, calls: entry.provider == .cuda ? calls : Locked(0), failures: entry.provider == .cuda ? 1 : 0)
        }
        _ = try await synthesizer.synthesize(SynthesisRequest(text: "Hello."))
        let report = await synthesizer.report
        #expect(report.fallbacks.isEmpty, "\(report.fallbacks)")
        #expect(report.activeEntry?.provider == .cuda)
        #expect(report.transientRetries == 1)
    }

    @Test("a transient failure that outlasts the retries retires CUDA only until its cooldown")
    func transientRetiresForACooldown() async throws {
        let plan = try piperPlan(provider: .cuda)
        let calls = Locked(0)
        let synthesizer = OptimizedSynthesizer(
            plan: plan, retryPolicy: RetryPolicy(retriesOnSameEntry: 1, retryDelay: .milliseconds(1), cooldown: .milliseconds(50))
        ) { entry in
            FlakyEngine(label: entry.label, calls: entry.provider == .cuda ? calls : Locked(0), failures: entry.provider == .cuda ? 2 : 0)
        }
        _ = try await synthesizer.synthesize(SynthesisRequest(text: "Hello."))
        var report = await synthesizer.report
        #expect(report.activeEntry?.provider == .cpu)
        let event = try #require(report.fallbacks.first)
        #expect(event.kind == .transient && event.retryAfterSeconds == 0.05)
        try await Task.sleep(for: .milliseconds(80))
        _ = try await synthesizer.synthesize(SynthesisRequest(text: "Hello again."))
        report = await synthesizer.report
        #expect(report.activeEntry?.provider == .cuda, "CUDA came back after the cooldown")
    }

    @Test("a persistent failure (no kernel image) retires CUDA at once and for good")
    func persistentRetiresForGood() async throws {
        let plan = try piperPlan(provider: .cuda)
        let calls = Locked(0)
        let synthesizer = OptimizedSynthesizer(
            plan: plan, retryPolicy: RetryPolicy(retriesOnSameEntry: 2, retryDelay: .milliseconds(1), cooldown: .zero)
        ) { entry in
            FlakyEngine(
                label: entry.label, calls: entry.provider == .cuda ? calls : Locked(0), failures: entry.provider == .cuda ? 100 : 0,
                error: .engineFailure("CUDA error: no kernel image is available for execution on the device"))
        }
        _ = try await synthesizer.synthesize(SynthesisRequest(text: "Hello."))
        _ = try await synthesizer.synthesize(SynthesisRequest(text: "Hello again."))
        let report = await synthesizer.report
        #expect(calls.get() == 1, "no retry of a persistent failure")
        #expect(report.activeEntry?.provider == .cpu)
        #expect(report.fallbacks.count == 1 && report.fallbacks[0].kind == .persistent && report.fallbacks[0].retryAfterSeconds == nil)
    }

    /// On a clock of its own: with real sleeps, two starved cores in a parallel test run once
    /// stretched the 1 ms side past the 600 ms side's time, and the test chose the wrong side.
    @Test("warm-up measures CUDA against the CPU and runs the faster first")
    func measurementPicksTheFaster() async throws {
        let plan = try piperPlan()
        #expect(plan.measuredAtWarmUp == [0, 1])
        let clock = ManualClock()
        let slowGPU = OptimizedSynthesizer(plan: plan, measurementClock: clock) { entry in
            FlakyEngine(label: entry.label, calls: Locked(0), delay: entry.provider == .cuda ? .milliseconds(600) : .milliseconds(1), clock: clock)
        }
        let report = try await slowGPU.prepare()
        #expect(report.activeEntry?.provider == .cpu)
        let measurement = try #require(report.measurement)
        #expect(measurement.chosenIndex == 1)
        #expect(measurement.timings.map(\.seconds) == [0.6, 0.001], "each side timed at exactly its own delay")
        #expect(report.fallbacks.isEmpty)

        let fastGPU = OptimizedSynthesizer(plan: plan, measurementClock: clock) { entry in
            FlakyEngine(label: entry.label, calls: Locked(0), delay: entry.provider == .cuda ? .milliseconds(1) : .milliseconds(600), clock: clock)
        }
        #expect(try await fastGPU.prepare().activeEntry?.provider == .cuda)
    }

    @Test("the report carries where the active engine's nodes run")
    func placementReported() async throws {
        let plan = try piperPlan(provider: .cuda)
        let placement = SessionPlacement(nodesByProvider: ["CUDAExecutionProvider": 140, "CPUExecutionProvider": 3], cpuOperators: ["Shape"], memcpyNodes: 2)
        let synthesizer = OptimizedSynthesizer(plan: plan) { entry in
            FlakyEngine(label: entry.label, calls: Locked(0), placement: entry.provider == .cuda ? placement : nil)
        }
        let report = try await synthesizer.prepare()
        #expect(report.placements?["vits"] == placement)
    }

    @Test("a custom warm-up (Chatterbox) runs instead of the warm-up request, and its failure falls back")
    func customWarmUp() async throws {
        let plan = try ExecutionPlanner().plan(hardware: gpuMachine, inventory: Fixtures.chatterbox)
        let ran = Locked<[String]>([])
        let synthesizer = OptimizedSynthesizer(plan: plan, warmUp: { engine in
            ran.withLock { $0.append(engine.info.voice) }
            if engine.info.voice == "cuda:0 fp16" { throw VoxError.engineFailure("no kernel image is available") }
        }) { entry in
            FlakyEngine(label: entry.label, calls: Locked(0))
        }
        let report = try await synthesizer.prepare()
        #expect(ran.get() == ["cuda:0 fp16", "cuda:0 fp32"])
        #expect(report.activeEntry?.label == "cuda:0 fp32")
        #expect(report.fallbacks.first?.stage == .warmUp)
    }
}
